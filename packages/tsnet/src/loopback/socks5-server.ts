/**
 * Drives a `Socks5Handshake` (./socks5-handshake.ts) on a client stream: writes its answers, dials
 * the CONNECT target through the injected `TailnetDial`, sends the RFC 1928 §6 reply for the outcome
 * and then relays bytes both ways until either side closes. The handshake deadline and the limit on
 * pending handshakes belong to the listener (./loopback.ts); the dial has its own deadline here.
 *
 * Dial failures are answered with the reply code that names them (Go's `net/socks5` always answers
 * "general failure"; curl and other clients print the code, which helps):
 *
 * | dial error `code` | reply |
 * |---|---|
 * | `ECONNREFUSED` | 5 connection refused |
 * | `ENOTFOUND`, `EHOSTUNREACH`, `ETIMEDOUT`, `EAI_AGAIN`, our dial deadline | 4 host unreachable |
 * | `ENETUNREACH` | 3 network unreachable |
 * | `EACCES`, `EPERM` | 2 connection not allowed |
 * | anything else | 1 general failure |
 */
import type { Duplex } from 'node:stream';
import { IPAddr, type Logf, TsnetError } from '@tsnet/core';
import type { TailnetDial } from '../http/dial.js';
import { SOCKS5_REFUSALS, Socks5Handshake, type Socks5Refusal } from './socks5-handshake.js';
import { emitReply, SOCKS5_REPLY, type Socks5Address, type Socks5ReplyCode } from './socks5-wire.js';

/** SOCKS5 counters, readable by users and tests. */
export interface Socks5Stats {
  /** Connections that started a SOCKS5 handshake. */
  sessions: number;
  /** CONNECTs that reached their target and are (or were) relayed. */
  connected: number;
  /** CONNECTs whose dial failed or timed out. */
  dialFailures: number;
  /** Handshakes refused, by reason. */
  refused: Record<Socks5Refusal, number>;
}

/** A zeroed `Socks5Stats`. */
export function newSocks5Stats(): Socks5Stats {
  const refused = {} as Record<Socks5Refusal, number>;
  for (const r of SOCKS5_REFUSALS) refused[r] = 0;
  return { sessions: 0, connected: 0, dialFailures: 0, refused };
}

/** What `serveSocks5` needs from its owner. */
export interface Socks5ConnOptions {
  dial: TailnetDial;
  username: string;
  password: string;
  /** Give up a dial after this long and answer "host unreachable". */
  dialTimeoutMs: number;
  logf: Logf;
  stats: Socks5Stats;
  /** Aborted when the owner closes: dials in flight are abandoned. */
  signal: AbortSignal;
  /** Called once, when the handshake is over (a CONNECT was decided, or it was refused). */
  onHandshakeEnd(): void;
  /** Called with each target stream, so the owner can destroy it on close. */
  track(upstream: Duplex): void;
}

/** The reply code for a dial error (see the table above). */
export function replyForDialError(err: unknown): Socks5ReplyCode {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return SOCKS5_REPLY.connectionRefused;
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
      return SOCKS5_REPLY.hostUnreachable;
    case 'ENETUNREACH':
      return SOCKS5_REPLY.networkUnreachable;
    case 'EACCES':
    case 'EPERM':
      return SOCKS5_REPLY.connectionNotAllowed;
    default:
      return SOCKS5_REPLY.generalFailure;
  }
}

/** The bound address to report for a connected target: its local address when it has one. */
function boundAddress(upstream: Duplex): Socks5Address | undefined {
  const s = upstream as Partial<{ localAddress: unknown; localPort: unknown }>;
  if (typeof s.localAddress !== 'string' || typeof s.localPort !== 'number') return undefined;
  const ip = IPAddr.tryParse(s.localAddress);
  if (ip === null || ip.zone !== '' || s.localPort < 0 || s.localPort > 0xffff) return undefined;
  return { type: ip.is4() ? 'ipv4' : 'ipv6', host: ip.toString(), port: s.localPort };
}

/** Ends `s` after `last` is flushed, then destroys it (a peer that never closes cannot hold it). */
function endAndDestroy(s: Duplex, last?: Uint8Array): void {
  if (s.destroyed) return;
  s.end(last, () => s.destroy());
}

/** Dials with a deadline and the owner's signal; a dial that wins after either is destroyed. */
function dialBounded(opts: Socks5ConnOptions, host: string, port: number): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const ac = new AbortController();
    let settled = false;
    const finish = (err: unknown, sock?: Duplex) => {
      if (settled) {
        sock?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      if (sock !== undefined) resolve(sock);
      else {
        ac.abort(err);
        reject(err);
      }
    };
    const onAbort = () => finish(new TsnetError('ECONNABORTED', 'loopback listener closed'));
    const timer = setTimeout(
      () =>
        finish(new TsnetError('ETIMEDOUT', `dial ${host}:${port}: no answer in ${opts.dialTimeoutMs} ms`)),
      opts.dialTimeoutMs,
    );
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    let p: Promise<Duplex>;
    try {
      p = opts.dial(host, port, { signal: ac.signal });
    } catch (e) {
      finish(e);
      return;
    }
    Promise.resolve(p).then(
      (sock) => finish(undefined, sock),
      (e: unknown) => finish(e),
    );
  });
}

/**
 * Relays bytes both ways. Each direction ends when its source ends (TCP half-close is kept); when
 * either stream closes or fails, both are destroyed.
 */
export function relay(a: Duplex, b: Duplex, logf: Logf): void {
  const done = () => {
    a.destroy();
    b.destroy();
  };
  a.once('close', done);
  b.once('close', done);
  a.on('error', (e: Error) => logf('socks5: client: %s', e.message));
  b.on('error', (e: Error) => logf('socks5: target: %s', e.message));
  a.pipe(b);
  b.pipe(a);
}

/**
 * Serves one SOCKS5 client on `client`. `first` holds the bytes already read from it (the
 * listener's sniff). Never throws; every failure ends in a reply (when one is due) and a close.
 */
export function serveSocks5(client: Duplex, first: Uint8Array, opts: Socks5ConnOptions): void {
  const hs = new Socks5Handshake({ username: opts.username, password: opts.password });
  opts.stats.sessions++;
  let ended = false;
  const endHandshake = () => {
    if (ended) return;
    ended = true;
    client.off('data', onData);
    opts.onHandshakeEnd();
  };
  const onData = (chunk: Uint8Array) => {
    if (ended) return;
    const step = hs.receive(chunk);
    const d = step.decision;
    switch (d.kind) {
      case 'need-more':
        for (const o of step.output) client.write(o);
        return;
      case 'refuse': {
        opts.stats.refused[d.reason]++;
        opts.logf('socks5: refused (%s): %s', d.reason, d.detail);
        endHandshake();
        const last = step.output.pop();
        for (const o of step.output) client.write(o);
        endAndDestroy(client, last);
        return;
      }
      case 'connect':
        client.pause();
        endHandshake();
        for (const o of step.output) client.write(o);
        void connect(client, d.target, d.rest, opts);
        return;
    }
  };
  client.on('data', onData);
  client.once('close', endHandshake);
  // A half-close in the middle of the handshake: it cannot finish any more.
  client.once('end', () => {
    if (ended) return;
    endHandshake();
    client.destroy();
  });
  if (first.length > 0) onData(first);
}

async function connect(client: Duplex, target: Socks5Address, rest: Uint8Array, opts: Socks5ConnOptions) {
  let upstream: Duplex;
  try {
    upstream = await dialBounded(opts, target.host, target.port);
  } catch (e) {
    opts.stats.dialFailures++;
    const code = replyForDialError(e);
    opts.logf(
      'socks5: dial %s port %d: %s (reply %d)',
      target.host,
      target.port,
      (e as Error)?.message,
      code,
    );
    endAndDestroy(client, emitReply(code));
    return;
  }
  opts.track(upstream);
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  opts.stats.connected++;
  client.write(emitReply(SOCKS5_REPLY.succeeded, boundAddress(upstream)));
  if (rest.length > 0) upstream.write(rest);
  relay(client, upstream, opts.logf);
  client.resume();
}
