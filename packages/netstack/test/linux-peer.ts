/**
 * Our `Stack` on our WireGuard `Device`, facing the Linux kernel's TCP/IP stack through the
 * wireguard-go network-namespace fixture (`@tsnet/interop` `startWgNetnsPeer`). Shared by
 * `linux.interop.test.ts` and `bench/linux.bench.ts`; no vitest in here.
 *
 * The kernel side of every transfer is a small python3 program run inside the namespace (python3
 * is always there; nc/socat/iperf are not), which sends random bytes, reads to EOF, and prints
 * the byte counts and SHA-256 of both directions as one JSON line.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { format } from 'node:util';
import { run, startWgNetnsPeer, type WgNetnsPeer } from '@tsnet/interop';
import { Device, type TunDevice } from '@tsnet/wireguard';
import { UdpBind } from '@tsnet/wireguard/node';
import type { LinkEndpoint } from '../src/link/link.js';
import { seededRandom } from '../src/random.js';
import { Stack, type StackOptions } from '../src/stack.js';
import type { TcpSocket } from '../src/tcp-socket.js';

export const MB = 1 << 20;

/** netem-like impairment applied inside our process, between the Device and the Stack. */
export interface Impairment {
  /** Extra one-way delay of every packet not chosen for reordering, in ms. */
  delayMs: number;
  /** Probability that a packet is dropped. */
  loss: number;
  /** Probability that a packet skips the delay (so it overtakes the delayed ones), as netem's `reorder`. */
  reorder: number;
  /**
   * Which packets: `fromKernel` (what `tc qdisc ... netem` on the namespace's interface does: the
   * kernel's egress only), or `both` (netem on both ends).
   */
  directions: 'fromKernel' | 'both';
  seed?: number;
}

/** Counters of the impairment, per direction. */
export interface ImpairStats {
  toKernel: { packets: number; dropped: number; reordered: number };
  fromKernel: { packets: number; dropped: number; reordered: number };
}

/**
 * Joins a WireGuard TunDevice to a netstack LinkEndpoint (the adapter apps/demo uses), optionally
 * impairing packets the way `tc qdisc ... netem delay D loss L reorder R` does on an interface's
 * egress: a dropped packet is gone, a reordered one goes at once, every other one after D ms.
 */
export function tunnelLink(
  mtu: number,
  impair?: Impairment,
): { tun: TunDevice; link: LinkEndpoint; stats: ImpairStats; close(): void } {
  let toStack: ((pkt: Uint8Array) => void) | undefined;
  let toDevice: ((pkt: Uint8Array) => void) | undefined;
  const stats: ImpairStats = {
    toKernel: { packets: 0, dropped: 0, reordered: 0 },
    fromKernel: { packets: 0, dropped: 0, reordered: 0 },
  };
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const rnd = seededRandom(impair?.seed ?? 1);
  const uniform = () => rnd() / 0x1_0000_0000;
  const pass = (s: ImpairStats['toKernel'], pkt: Uint8Array, out: (pkt: Uint8Array) => void): void => {
    s.packets++;
    if (impair === undefined || (s === stats.toKernel && impair.directions === 'fromKernel')) {
      out(pkt);
      return;
    }
    if (uniform() < impair.loss) {
      s.dropped++;
      return;
    }
    if (impair.delayMs <= 0 || uniform() < impair.reorder) {
      if (impair.delayMs > 0) s.reordered++;
      out(pkt);
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) out(pkt);
    }, impair.delayMs);
    timers.add(t);
  };
  return {
    link: {
      mtu,
      writePacket: (pkt) => pass(stats.toKernel, pkt, (p) => toDevice?.(p)),
      attach: (deliver) => {
        toStack = deliver;
      },
    },
    tun: {
      open: (onPacket) => {
        toDevice = onPacket;
      },
      write: (pkt) => pass(stats.fromKernel, pkt, (p) => toStack?.(p)),
      close: () => {},
    },
    stats,
    close: () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

export interface LinuxPeer {
  /** Our side. */
  stack: Stack;
  device: Device;
  /** The kernel's side: wireguard-go with its TUN in a network namespace. */
  peer: WgNetnsPeer;
  ours4: string;
  ours6: string;
  theirs4: string;
  theirs6: string;
  impairStats: ImpairStats;
  logs(): string;
  close(): Promise<void>;
}

/**
 * Our Device + Stack and a wireguard-go peer in a fresh namespace that know each other, with the
 * tunnel MTU on both sides (the kernel's interface too).
 */
export async function startLinuxPeer(
  opts: { mtu?: number; impair?: Impairment; stack?: Partial<StackOptions> } = {},
): Promise<LinuxPeer> {
  const mtu = opts.mtu ?? 1280;
  const lines: string[] = [];
  const logf = (fmt: string, ...args: unknown[]) => {
    lines.push(`[${new Date().toISOString()}] ${format(fmt, ...args)}`);
    if (lines.length > 2000) lines.splice(0, 1000);
  };
  const bind = new UdpBind({ host4: '127.0.0.1', host6: false });
  const adapter = tunnelLink(mtu, opts.impair);
  const device = new Device({
    privateKey: new Uint8Array(randomBytes(32)),
    bind,
    tun: adapter.tun,
    mtu,
    logf,
  });
  await device.up();
  let peer: WgNetnsPeer;
  try {
    peer = await startWgNetnsPeer({
      peerPublicKey: Buffer.from(device.publicKey).toString('base64'),
      peerAllowedIps: ['10.201.0.2/32', 'fd00:201::2/128'],
      peerEndpoint: `127.0.0.1:${bind.port}`,
      mtu,
    });
  } catch (err) {
    adapter.close();
    await device.close();
    throw err;
  }
  device.addPeer({
    publicKey: peer.publicKey,
    endpoint: `127.0.0.1:${peer.listenPort}`,
    allowedIps: [`${peer.address4}/32`, `${peer.address6}/128`],
  });
  const stack = new Stack({
    link: adapter.link,
    addresses: [peer.peerAddress4, peer.peerAddress6],
    logf,
    ...opts.stack,
  });
  let closed = false;
  return {
    stack,
    device,
    peer,
    ours4: peer.peerAddress4,
    ours6: peer.peerAddress6,
    theirs4: peer.address4,
    theirs6: peer.address6,
    impairStats: adapter.stats,
    logs: () => `${lines.join('\n')}\n--- wireguard-go and the namespace ---\n${peer.logs()}`,
    async close() {
      if (closed) return;
      closed = true;
      stack.close();
      adapter.close();
      await device.close();
      await peer.close();
    },
  };
}

/** What one end of a transfer did: bytes and SHA-256 of what it sent and of what it received. */
export interface EndResult {
  sent: number;
  sentSha: string;
  received: number;
  receivedSha: string;
  /** Seconds from connection to the end of both directions (as seen by that end). */
  seconds: number;
}

/**
 * The kernel's end of a transfer, in python3: `listen HOST PORT SEND` accepts one connection
 * (printing `{"listening":PORT}` first), `connect HOST PORT SEND` connects. Either way it sends
 * SEND random bytes and then half-closes, reads to EOF on another thread, and prints an EndResult.
 */
const PY_END = `
import hashlib, json, os, socket, sys, threading, time
mode, host, port, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
if mode == 'listen':
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port)); ls.listen(1)
    print(json.dumps({'listening': ls.getsockname()[1]}), flush=True)
    ls.settimeout(120); s, _ = ls.accept(); ls.close()
else:
    s = socket.create_connection((host, port), timeout=30)
s.settimeout(300)
t0 = time.monotonic(); out = {}
def send():
    h = hashlib.sha256(); left = total
    while left > 0:
        b = os.urandom(min(left, 65536)); h.update(b); s.sendall(b); left -= len(b)
    s.shutdown(socket.SHUT_WR); out['sent'] = total; out['sentSha'] = h.hexdigest()
def recv():
    h = hashlib.sha256(); n = 0; buf = bytearray(262144); mv = memoryview(buf)
    while True:
        k = s.recv_into(buf)
        if k == 0: break
        h.update(mv[:k]); n += k
    out['received'] = n; out['receivedSha'] = h.hexdigest()
ts = [threading.Thread(target=send), threading.Thread(target=recv)]
for t in ts: t.start()
for t in ts: t.join()
out['seconds'] = time.monotonic() - t0
s.close()
print(json.dumps(out), flush=True)
`;

/** A python3 end inside the namespace; `result` resolves with its EndResult (or rejects with its stderr). */
export interface KernelEnd {
  proc: ChildProcess;
  /** The port it listens on (listen mode), once it is listening. */
  listening: Promise<number>;
  result: Promise<EndResult>;
}

export function kernelEnd(
  peer: WgNetnsPeer,
  mode: 'listen' | 'connect',
  host: string,
  port: number,
  sendBytes: number,
  timeoutMs: number,
): KernelEnd {
  const proc = peer.spawn(['python3', '-c', PY_END, mode, host, String(port), String(sendBytes)]);
  let stdout = '';
  let stderr = '';
  let onListening: (port: number) => void = () => {};
  let notListening: (err: Error) => void = () => {};
  const listening = new Promise<number>((resolve, reject) => {
    onListening = resolve;
    notListening = reject;
  });
  listening.catch(() => {}); // connect mode never listens; a caller that awaits it still sees the rejection
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (s: string) => {
    stdout += s;
    const m = /\{"listening": (\d+)\}/.exec(stdout);
    if (m) onListening(Number(m[1]));
  });
  proc.stderr?.on('data', (s: string) => {
    stderr += s;
  });
  const result = new Promise<EndResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(`python3 ${mode} did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`),
      );
    }, timeoutMs);
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      notListening(
        new Error(`python3 ${mode} exited (${sig ?? code}) before listening: ${stderr.slice(-2000)}`),
      );
      const line = stdout
        .trim()
        .split('\n')
        .find((l) => l.includes('"sentSha"'));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line) as EndResult);
      else
        reject(
          new Error(
            `python3 ${mode} exited ${sig ?? code}; stdout: ${stdout}; stderr: ${stderr.slice(-2000)}`,
          ),
        );
    });
  });
  result.catch(() => {}); // handled by whoever awaits it; no unhandled rejection meanwhile
  return { proc, listening, result };
}

/**
 * Our end of a transfer on a TcpSocket (opened with `allowHalfOpen: true`: the other end may finish
 * sending long before we do): writes `sendBytes` random bytes with backpressure, then
 * `end()`; reads to EOF; hashes both directions. Resolves when both are done.
 */
export function ourEnd(socket: TcpSocket, sendBytes: number, timeoutMs: number): Promise<EndResult> {
  return new Promise<EndResult>((resolve, reject) => {
    const t0 = performance.now();
    const rx = createHash('sha256');
    const tx = createHash('sha256');
    let received = 0;
    let sentSha = '';
    let receivedSha = '';
    let pending = 2;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `our end did not finish within ${timeoutMs} ms: received ${received}, sent ${sentSha === '' ? 'not all' : 'all'}; ${JSON.stringify(socket.tcpInfo())}`,
        ),
      );
    }, timeoutMs);
    const done = () => {
      if (--pending > 0) return;
      clearTimeout(timer);
      resolve({ sent: sendBytes, sentSha, received, receivedSha, seconds: (performance.now() - t0) / 1000 });
    };
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      if (pending === 0) return;
      clearTimeout(timer);
      reject(
        new Error(
          `our socket closed early: received ${received}, sent ${sentSha === '' ? 'not all' : 'all'}`,
        ),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      rx.update(chunk);
      received += chunk.length;
    });
    socket.on('end', () => {
      receivedSha = rx.digest('hex');
      done();
    });
    let left = sendBytes;
    const pump = () => {
      while (left > 0) {
        const b = randomBytes(Math.min(left, 65536));
        tx.update(b);
        left -= b.length;
        if (!socket.write(b)) {
          socket.once('drain', pump);
          return;
        }
      }
      sentSha = tx.digest('hex');
      socket.end(done);
    };
    pump();
  });
}

/** The SHA-256 of no bytes. */
export const EMPTY_SHA = createHash('sha256').digest('hex');

/** What `ss -tino` in the namespace says about one connection (the options line parsed). */
export interface SsInfo {
  /** ESTAB, CLOSE-WAIT... */
  state: string;
  line: string;
  sack: boolean;
  ts: boolean;
  /** `wscale:<snd>,<rcv>`: the shift the peer (we) announced, and the kernel's own. */
  wscale: [number, number] | null;
  mss: number | null;
  pmtu: number | null;
  congestion: string | null;
}

/** Runs `ss -tino` in the namespace and parses the entry (any state but LISTEN) whose peer is `ourAddr:ourPort`. */
export async function ssInfo(peer: WgNetnsPeer, ourAddr: string, ourPort: number): Promise<SsInfo | null> {
  // `-o` as well: ss prints the `ts`/`sack`/`ecn` flags of tcpi_options only under `show_options`
  // (`-o` or `-e`); a bare `ss -ti` (iproute2 6.1 here) shows `wscale:` but not them.
  const r = await peer.exec(['ss', '-tino'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`ss -tino exited ${r.code}: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  const want = ourAddr.includes(':') ? `[${ourAddr}]:${ourPort}` : `${ourAddr}:${ourPort}`;
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (!fields.includes(want)) continue;
    const info = (lines[i + 1] ?? '').trim();
    const tokens = info.split(/\s+/);
    const ws = /(?:^|\s)wscale:(\d+),(\d+)/.exec(info);
    const num = (name: string) => {
      const m = new RegExp(`(?:^|\\s)${name}:(\\d+)`).exec(info);
      return m ? Number(m[1]) : null;
    };
    return {
      state: fields[0]!,
      line: info,
      sack: tokens.includes('sack'),
      ts: tokens.includes('ts'),
      wscale: ws ? [Number(ws[1]), Number(ws[2])] : null,
      mss: num('mss'),
      pmtu: num('pmtu'),
      congestion: tokens.find((t) => ['cubic', 'reno', 'bbr'].includes(t)) ?? null,
    };
  }
  return null;
}

/**
 * `tc qdisc replace dev <if> root netem ...` inside the namespace. Resolves with null when it was
 * applied, or with the reason it could not be (netem not in this kernel, no `tc`).
 */
export async function addNetem(peer: WgNetnsPeer, args: string[]): Promise<string | null> {
  const which = await run('sh', ['-c', 'command -v tc']);
  if (which.code !== 0) return '`tc` (iproute2) is not installed';
  const r = await peer.exec(['tc', 'qdisc', 'replace', 'dev', peer.ifname, 'root', 'netem', ...args], {
    timeoutMs: 10_000,
  });
  if (r.code === 0) return null;
  return `\`tc qdisc add ... netem\` failed in the namespace: ${r.stderr.trim()} (this kernel has no sch_netem: CONFIG_NET_SCH_NETEM unset or the module not loadable)`;
}
