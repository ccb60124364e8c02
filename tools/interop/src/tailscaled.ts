// A real tailscaled in userspace-networking mode (no root, no TUN) with its own state dir, LocalAPI
// socket, UDP port, SOCKS5 and HTTP proxies; `up()` runs `tailscale up --login-server`. Inbound tailnet
// TCP to it is forwarded to 127.0.0.1:<same port> on this host; outbound goes through the proxies.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort, Proc, type RunResult, run, waitUntil } from './proc.js';
import { type HttpResponse, socks5Connect, socks5Exchange, socks5HttpGet } from './socks5.js';
import { requireBinary } from './status.js';

export interface TailscaledOptions {
  /** Extra environment, e.g. `derper.clientEnv` (TS_DEBUG_USE_DERP_HTTP=1 for a plain-HTTP DERP). */
  env?: Record<string, string>;
  /** tailscaled --verbose (default 1). */
  verbose?: number;
  /** Advertise local interface addresses as endpoints (default false: only STUN-derived 127.0.0.1 ones). */
  advertiseLocalAddrs?: boolean;
  /**
   * State directory; pass the `dir` of a tailscaled closed with `keepState` to restart the same node
   * (same node key and addresses, no `up` needed; a fresh disco key, as at every start). Default: a
   * fresh one.
   */
  dir?: string;
  /** WireGuard/disco UDP port (default: a free one). */
  port?: number;
}

export interface UpOptions {
  loginServer: string;
  authKey: string;
  hostname?: string;
  /** Extra `tailscale up` flags. */
  extraArgs?: string[];
  timeoutMs?: number;
}

export interface PingOptions {
  /** -c (default 5) */
  count?: number;
  /** --until-direct (tailscale's default is true) */
  untilDirect?: boolean;
  /** --timeout per ping in seconds (default 5) */
  timeoutSec?: number;
  /** --tsmp, --icmp or --peerapi instead of disco */
  type?: 'disco' | 'tsmp' | 'icmp' | 'peerapi';
}

export interface Pong {
  line: string;
  /** "DERP(<code>)" or "<ip:port>" */
  via: string;
  derp: boolean;
}

export interface PingResult extends RunResult {
  pongs: Pong[];
}

export interface Tailscaled {
  dir: string;
  socket: string;
  /** WireGuard/disco UDP port */
  port: number;
  socks5Port: number;
  httpProxyPort: number;
  /** `tailscale --socket=<ours> ...args` */
  cli(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  up(opts: UpOptions): Promise<void>;
  /** `tailscale status --json`, parsed (ipnstate.Status). */
  status(): Promise<TailscaleStatus>;
  /** Our first Tailscale IPv4 address. */
  ip4(): Promise<string>;
  ping(target: string, opts?: PingOptions): Promise<PingResult>;
  /** `tailscale whois --json <ip[:port]>`, parsed (apitype.WhoIsResponse). */
  whois(target: string): Promise<Record<string, unknown>>;
  /**
   * `tailscale nc host port`: writes `input`, keeps stdin open until `expectBytes` came back (or the
   * peer closed, or the timeout), and returns what came back.
   */
  nc(
    host: string,
    port: number,
    input: string | Uint8Array,
    opts?: { expectBytes?: number; timeoutMs?: number },
  ): Promise<Buffer>;
  /** A TCP stream into the tailnet through the SOCKS5 proxy; it comes back paused (resume() or pipe() it). */
  socks5Connect(host: string, port: number): Promise<Socket>;
  /** Sends `data` through the SOCKS5 proxy; returns `expectBytes` bytes of reply, or all until the peer closes. */
  socks5Exchange(
    host: string,
    port: number,
    data: string | Uint8Array,
    opts?: { expectBytes?: number; timeoutMs?: number },
  ): Promise<Buffer>;
  httpGet(url: string, timeoutMs?: number): Promise<HttpResponse>;
  logs(): string;
  /** Stops tailscaled; its state dir (also a `dir` the caller passed) is deleted unless `keepState`. */
  close(opts?: { keepState?: boolean }): Promise<void>;
}

/** The parts of ipnstate.Status the fixtures use; the rest is there too. */
export interface TailscaleStatus {
  BackendState: string;
  TailscaleIPs: string[] | null;
  Self: PeerStatus;
  Peer: Record<string, PeerStatus> | null;
  [k: string]: unknown;
}

export interface PeerStatus {
  ID: string;
  PublicKey: string;
  HostName: string;
  DNSName: string;
  TailscaleIPs: string[] | null;
  CurAddr: string;
  Relay: string;
  Online: boolean;
  Active: boolean;
  RxBytes: number;
  TxBytes: number;
  [k: string]: unknown;
}

export function parsePongs(out: string): Pong[] {
  const pongs: Pong[] = [];
  for (const line of out.split('\n')) {
    const m = line.match(/^pong from .* via (\S+(?:\([^)]*\))?) in /);
    if (m?.[1] !== undefined) pongs.push({ line, via: m[1], derp: m[1].startsWith('DERP(') });
  }
  return pongs;
}

export async function startTailscaled(opts: TailscaledOptions = {}): Promise<Tailscaled> {
  const tailscaledBin = requireBinary('tailscaled');
  const tailscaleBin = requireBinary('tailscale');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tsnet-tailscaled-'));
  const socket = join(dir, 'tailscaled.sock');
  const port = opts.port ?? (await freeUdpPort(true));
  const socks5Port = await freeTcpPort();
  const httpProxyPort = await freeTcpPort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TS_DISABLE_PORTMAPPER: '1',
    ...(opts.advertiseLocalAddrs === true ? {} : { TS_DEBUG_OMIT_LOCAL_ADDRS: '1' }),
    ...opts.env,
  };
  const proc = new Proc(
    `tailscaled :${port}`,
    tailscaledBin,
    [
      '--tun=userspace-networking',
      `--statedir=${dir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      `--socks5-server=127.0.0.1:${socks5Port}`,
      `--outbound-http-proxy-listen=127.0.0.1:${httpProxyPort}`,
      '--no-logs-no-support',
      `--verbose=${opts.verbose ?? 1}`,
    ],
    { env, cwd: dir },
  );

  const cli = (args: string[], o: { timeoutMs?: number; input?: string } = {}) =>
    run(tailscaleBin, [`--socket=${socket}`, ...args], {
      timeoutMs: o.timeoutMs ?? 15_000,
      env,
      ...(o.input !== undefined ? { input: o.input } : {}),
    });
  const status = async (): Promise<TailscaleStatus> => {
    const r = await cli(['status', '--json']);
    if (r.stdout.trim() === '') throw new Error(`tailscale status --json: ${r.stderr}`);
    return JSON.parse(r.stdout) as TailscaleStatus;
  };
  const close = async (o: { keepState?: boolean } = {}) => {
    await proc.stop();
    if (o.keepState !== true) rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil(
      'the tailscaled LocalAPI',
      async () => proc.exitInfo === null && existsSync(socket) && (await status()).BackendState !== undefined,
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const tail = proc.logs().slice(-4000);
    await close();
    throw new Error(`startTailscaled failed: ${msg}\n${tail}`);
  }

  const ts: Tailscaled = {
    dir,
    socket,
    port,
    socks5Port,
    httpProxyPort,
    cli,
    async up(o) {
      const timeoutMs = o.timeoutMs ?? 30_000;
      const args = [
        'up',
        `--login-server=${o.loginServer}`,
        `--auth-key=${o.authKey}`,
        `--hostname=${o.hostname ?? 'tailscaled'}`,
        '--accept-dns=false',
        `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
        ...(o.extraArgs ?? []),
      ];
      const r = await cli(args, { timeoutMs: timeoutMs + 5000 });
      if (r.code !== 0) throw new Error(`tailscale up exited ${r.code}: ${r.stderr}${r.stdout}`);
      await waitUntil('tailscaled to be Running', async () => (await status()).BackendState === 'Running', {
        timeoutMs,
      });
    },
    status,
    async ip4() {
      const st = await status();
      const ip = st.TailscaleIPs?.find((a) => a.includes('.'));
      if (ip === undefined) throw new Error('tailscaled has no Tailscale IPv4 address');
      return ip;
    },
    async ping(target, o = {}) {
      const count = o.count ?? 5;
      const timeoutSec = o.timeoutSec ?? 5;
      const args = ['ping', '-c', String(count), `--timeout=${timeoutSec}s`];
      if (o.untilDirect !== undefined) args.push(`--until-direct=${o.untilDirect}`);
      if (o.type !== undefined && o.type !== 'disco') args.push(`--${o.type}`);
      args.push(target);
      const r = await cli(args, { timeoutMs: (count * (timeoutSec + 1) + 5) * 1000 });
      return { ...r, pongs: parsePongs(r.stdout) };
    },
    async whois(target) {
      const r = await cli(['whois', '--json', target]);
      if (r.code !== 0) throw new Error(`tailscale whois ${target} exited ${r.code}: ${r.stderr}${r.stdout}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    },
    nc(host, p, input, o = {}) {
      const timeoutMs = o.timeoutMs ?? 10_000;
      return new Promise((resolve, reject) => {
        const child = spawn(tailscaleBin, [`--socket=${socket}`, 'nc', host, String(p)], { env });
        const out: Buffer[] = [];
        let n = 0;
        let err = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.on('data', (d: Buffer) => {
          out.push(d);
          n += d.length;
          if (o.expectBytes !== undefined && n >= o.expectBytes) child.stdin.end();
        });
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
        });
        child.stdin.on('error', () => {});
        child.once('error', reject);
        child.once('close', (code) => {
          clearTimeout(timer);
          if (o.expectBytes !== undefined && n < o.expectBytes) {
            reject(
              new Error(
                `tailscale nc ${host} ${p}: got ${n} of ${o.expectBytes} bytes (exit ${code}) ${err}`,
              ),
            );
          } else resolve(Buffer.concat(out));
        });
        child.stdin.write(input);
        if (o.expectBytes === undefined) child.stdin.end();
      });
    },
    socks5Connect: (host, p) => socks5Connect(socks5Port, host, p),
    socks5Exchange: (host, p, data, o) => socks5Exchange(socks5Port, host, p, data, o),
    httpGet: (url, timeoutMs) => socks5HttpGet(socks5Port, url, timeoutMs),
    logs: () => proc.logs(),
    close,
  };
  return ts;
}
