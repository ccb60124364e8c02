/**
 * Opening a DERP byte stream to a server (tailscale `derp/derphttp/derphttp_client.go`
 * `connect`, `tlsClient`, `dialNode`; `websocket.go`): TCP or TLS, then
 *
 * ```
 * GET /derp HTTP/1.1
 * Host: <host>
 * Upgrade: DERP
 * Connection: Upgrade
 * ```
 *
 * and a `101 Switching Protocols`, after which the socket carries DERP frames; or a WebSocket
 * with subprotocol `derp`.
 *
 * TLS verification follows the DERP map (`tailcfg.DERPNode`): by default the certificate must be
 * valid for `HostName`; `CertName` names the certificate instead; `CertName: "sha256-raw:<hex>"`
 * pins the SHA-256 of the leaf certificate's DER (a self-signed derper); `InsecureForTests`
 * verifies nothing.
 */

import { createHash } from 'node:crypto';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { TsnetError } from '@tsnet/core';
import { WebSocket } from 'ws';
import { type ByteTransport, SocketTransport, WebSocketTransport } from '../transport.js';
import { DERP_PUBLIC_KEY_HEADER, WEBSOCKET_SUBPROTOCOL } from '../wire/constants.js';

/** How to verify the server's certificate. */
export interface DerpTlsOptions {
  /** The name the certificate must be valid for, or `sha256-raw:<hex>` to pin its SHA-256. */
  certName?: string;
  /** Verify nothing (tests only; `DERPNode.InsecureForTests`). */
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Where and how to dial one DERP server (`targetFromUrl`, `nodeTarget`). */
export interface DialTarget {
  /** `http:`, `https:`, `ws:` or `wss:`. */
  protocol: 'http:' | 'https:' | 'ws:' | 'wss:';
  /** The name for the Host header, SNI and certificate checks. */
  hostname: string;
  /** Where to connect (an IP, or the hostname); defaults to `hostname`. */
  connectHost?: string;
  /** The TCP port (`targetFromUrl`: 443/80 by scheme; `nodeTarget`: `DERPPort`, else 443 or 3340). */
  port: number;
  /** Default `/derp`. */
  path?: string;
  /** Certificate checks for `https:`/`wss:`; default: valid for `hostname`. */
  tls?: DerpTlsOptions;
  /** Extra request headers (e.g. `Ideal-Node`). */
  headers?: Record<string, string>;
}

/** An open DERP stream, from `dialDerp`. */
export interface DialResult {
  /** The stream; its handlers are not installed yet (data waits until `setHandlers`). */
  transport: ByteTransport;
  /** Bytes the server sent right after the 101 response (the start of the frame stream). */
  initial: Uint8Array;
  /** The `Derp-Public-Key` response header, if sent (64 hex digits). */
  serverKeyHex?: string;
}

const MAX_RESPONSE_HEADER = 16 * 1024;

/** Parses an `http(s)://` or `ws(s)://` DERP URL into a dial target. */
export function targetFromUrl(url: string, tls?: DerpTlsOptions): DialTarget {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new TypeError(`url must be http(s):// or ws(s)://, got ${u.protocol}`);
  }
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const t: DialTarget = {
    protocol: u.protocol,
    hostname,
    port: u.port === '' ? (secure ? 443 : 80) : Number(u.port),
    path: u.pathname === '/' ? '/derp' : u.pathname,
  };
  if (tls !== undefined) t.tls = tls;
  return t;
}

function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The TLS options of Node for a target, implementing the DERP map's verification rules. */
function tlsOptionsFor(t: DialTarget): {
  servername?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
  ca?: string | Buffer | Array<string | Buffer>;
  pinnedSha256?: string;
} {
  const o = t.tls ?? {};
  const sni = isIP(t.hostname) === 0 ? t.hostname : undefined;
  const base = sni === undefined ? {} : { servername: sni };
  const ca = o.ca === undefined ? {} : { ca: o.ca };
  if (o.insecure === true) return { ...base, rejectUnauthorized: false };
  const certName = o.certName ?? '';
  if (certName.startsWith('sha256-raw:')) {
    // Verified after the handshake against the leaf's DER (tlsdial.SetConfigExpectedCertHash).
    return {
      ...base,
      rejectUnauthorized: false,
      pinnedSha256: certName.slice('sha256-raw:'.length).toLowerCase(),
    };
  }
  const name = certName !== '' ? certName : t.hostname;
  return {
    ...base,
    ...ca,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
  };
}

function connectSocket(t: DialTarget, secure: boolean, signal: AbortSignal): Promise<Socket> {
  const host = t.connectHost ?? t.hostname;
  return new Promise<Socket>((resolve, reject) => {
    let sock: Socket;
    const onAbort = () => {
      sock.destroy();
      reject(new TsnetError('ETIMEDOUT', `dial ${host}:${t.port}: timed out`, { cause: signal.reason }));
    };
    const fail = (err: Error) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      const code = (err as NodeJS.ErrnoException).code ?? 'ECONNREFUSED';
      reject(
        TsnetError.is(err)
          ? err
          : new TsnetError(code, `dial ${host}:${t.port}: ${err.message}`, { cause: err }),
      );
    };
    if (secure) {
      const o = tlsOptionsFor(t);
      const { pinnedSha256, ...tlsOpts } = o;
      const s: TLSSocket = tlsConnect({ host, port: t.port, ...tlsOpts, ALPNProtocols: ['http/1.1'] });
      sock = s;
      s.once('secureConnect', () => {
        if (pinnedSha256 !== undefined) {
          const cert = s.getPeerCertificate();
          if (cert?.raw === undefined || sha256Hex(cert.raw) !== pinnedSha256) {
            fail(
              new TsnetError(
                'ERR_TLS_CERT_PIN',
                `dial ${host}:${t.port}: certificate does not match the sha256-raw pin`,
              ),
            );
            return;
          }
        }
        signal.removeEventListener('abort', onAbort);
        s.off('error', fail);
        resolve(s);
      });
    } else {
      sock = netConnect({ host, port: t.port });
      sock.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        sock.off('error', fail);
        resolve(sock);
      });
    }
    sock.once('error', fail);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sends the upgrade request and reads the response head; resolves with what followed it. */
function upgrade(
  sock: Socket,
  t: DialTarget,
  signal: AbortSignal,
): Promise<{ initial: Uint8Array; serverKeyHex?: string }> {
  const hostHeader =
    t.port === (t.protocol === 'https:' ? 443 : 80)
      ? t.hostname
      : `${isIP(t.hostname) === 6 ? `[${t.hostname}]` : t.hostname}:${t.port}`;
  let req = `GET ${t.path ?? '/derp'} HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n`;
  for (const [k, v] of Object.entries(t.headers ?? {})) req += `${k}: ${v}\r\n`;
  req += '\r\n';
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | null, value?: { initial: Uint8Array; serverKeyHex?: string }) => {
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err !== null) {
        sock.destroy();
        reject(err);
      } else {
        sock.pause();
        resolve(value!);
      }
    };
    const onData = (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > MAX_RESPONSE_HEADER)
          done(new TsnetError('ERR_DERP_UPGRADE', 'upgrade response header too long'));
        return;
      }
      const head = buf.subarray(0, end).toString('latin1');
      const lines = head.split('\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (status === null || status[1] !== '101') {
        const body = buf.subarray(end + 4, end + 4 + 200).toString('utf8');
        done(new TsnetError('ERR_DERP_UPGRADE', `DERP upgrade refused: ${lines[0] ?? ''} ${body}`.trim()));
        return;
      }
      const res: { initial: Uint8Array; serverKeyHex?: string } = { initial: buf.subarray(end + 4) };
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        if (c > 0 && line.slice(0, c).trim().toLowerCase() === DERP_PUBLIC_KEY_HEADER.toLowerCase()) {
          res.serverKeyHex = line.slice(c + 1).trim();
        }
      }
      done(null, res);
    };
    const onError = (err: Error) =>
      done(new TsnetError('ECONNRESET', `DERP upgrade: ${err.message}`, { cause: err }));
    const onClose = () =>
      done(new TsnetError('ECONNRESET', 'DERP upgrade: connection closed before the response'));
    const onAbort = () => done(new TsnetError('ETIMEDOUT', 'DERP upgrade: timed out'));
    sock.on('data', onData);
    sock.once('error', onError);
    sock.once('close', onClose);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    sock.write(req);
  });
}

function dialWebSocket(t: DialTarget, signal: AbortSignal, timeoutMs: number): Promise<DialResult> {
  const secure = t.protocol === 'https:' || t.protocol === 'wss:';
  const host = t.connectHost ?? t.hostname;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  const url = `${secure ? 'wss' : 'ws'}://${hostPart}:${t.port}${t.path ?? '/derp'}`;
  const o = tlsOptionsFor(t);
  const { pinnedSha256, ...tlsOpts } = o;
  const headers: Record<string, string> = { ...(t.headers ?? {}) };
  if (t.connectHost !== undefined && t.connectHost !== t.hostname) {
    headers.Host = `${isIP(t.hostname) === 6 ? `[${t.hostname}]` : t.hostname}:${t.port}`;
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [WEBSOCKET_SUBPROTOCOL], {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      headers,
      maxPayload: 4 << 20,
      ...(secure ? tlsOpts : {}),
    });
    const onAbort = () => {
      ws.terminate();
      reject(new TsnetError('ETIMEDOUT', `websocket ${url}: timed out`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      signal.removeEventListener('abort', onAbort);
      if (pinnedSha256 !== undefined) {
        const sock = (ws as unknown as { _socket?: TLSSocket })._socket;
        const raw = sock?.getPeerCertificate?.()?.raw;
        if (raw === undefined || sha256Hex(raw) !== pinnedSha256) {
          ws.terminate();
          reject(
            new TsnetError(
              'ERR_TLS_CERT_PIN',
              `websocket ${url}: certificate does not match the sha256-raw pin`,
            ),
          );
          return;
        }
      }
      if (ws.protocol !== WEBSOCKET_SUBPROTOCOL) {
        ws.terminate();
        reject(
          new TsnetError('ERR_DERP_UPGRADE', `websocket ${url}: server did not accept the derp subprotocol`),
        );
        return;
      }
      resolve({ transport: new WebSocketTransport(ws, `${hostPart}:${t.port}`), initial: new Uint8Array(0) });
    });
    ws.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new TsnetError(
          (err as NodeJS.ErrnoException).code ?? 'ECONNREFUSED',
          `websocket ${url}: ${err.message}`,
          { cause: err },
        ),
      );
    });
  });
}

/** The longest status line a latency probe reads before giving up on the response. */
const PROBE_MAX_STATUS_LINE = 4096;

/**
 * Measures a node's latency the way netcheck does without UDP: the time from sending
 * `HEAD /derp/latency-check` on a connected (and, for HTTPS, verified) socket to the first byte
 * of the response. Resolves with milliseconds, or rejects with a `TsnetError` within `timeoutMs`.
 */
export async function probeLatency(
  t: DialTarget,
  timeoutMs = 2000,
  now: () => number = () => performance.now(),
): Promise<number> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
  let sock: Socket | null = null;
  try {
    const secure = t.protocol === 'https:' || t.protocol === 'wss:';
    sock = await connectSocket(t, secure, ac.signal);
    const s = sock;
    const host = `${isIP(t.hostname) === 6 ? `[${t.hostname}]` : t.hostname}:${t.port}`;
    return await new Promise<number>((resolve, reject) => {
      const start = now();
      const onAbort = () => reject(new TsnetError('ETIMEDOUT', `latency probe of ${host}: timed out`));
      ac.signal.addEventListener('abort', onAbort, { once: true });
      const fail = (why: string) =>
        reject(new TsnetError('ERR_DERP_PROBE', `latency probe of ${host}: ${why}`));
      // The status line may come in pieces: read until its CRLF (at most 4 KiB).
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const eol = head.indexOf('\r\n');
        if (eol < 0 && head.length < PROBE_MAX_STATUS_LINE) return;
        stop();
        const line = eol < 0 ? null : head.subarray(0, eol).toString('latin1');
        if (line === null) fail(`no status line in the first ${PROBE_MAX_STATUS_LINE} bytes`);
        else if (/^HTTP\/1\.[01] 2\d\d/.test(line)) resolve(now() - start);
        else fail(line.slice(0, 200));
      };
      const onEnd = () => {
        stop();
        fail('the server closed before the status line ended');
      };
      const stop = () => {
        s.off('data', onData);
        s.off('end', onEnd);
        ac.signal.removeEventListener('abort', onAbort);
      };
      s.on('data', onData);
      s.once('end', onEnd);
      s.once('error', (e) =>
        reject(new TsnetError('ECONNRESET', `latency probe of ${host}: ${e.message}`, { cause: e })),
      );
      s.write(`HEAD /derp/latency-check HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
  } finally {
    clearTimeout(timer);
    sock?.destroy();
  }
}

/**
 * Opens a DERP stream: TCP/TLS + HTTP upgrade for `http:`/`https:`, WebSocket for `ws:`/`wss:`.
 * Rejects with a `TsnetError` (`ECONNREFUSED`, `ETIMEDOUT`, `ERR_DERP_UPGRADE`, `ERR_TLS_CERT_PIN`…)
 * within `timeoutMs`.
 */
export async function dialDerp(t: DialTarget, timeoutMs = 10_000): Promise<DialResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
  try {
    if (t.protocol === 'ws:' || t.protocol === 'wss:') return await dialWebSocket(t, ac.signal, timeoutMs);
    const sock = await connectSocket(t, t.protocol === 'https:', ac.signal);
    const { initial, serverKeyHex } = await upgrade(sock, t, ac.signal);
    const transport = new SocketTransport(sock);
    const r: DialResult = { transport, initial };
    if (serverKeyHex !== undefined) r.serverKeyHex = serverKeyHex;
    return r;
  } finally {
    clearTimeout(timer);
  }
}
