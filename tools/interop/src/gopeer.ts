// The Go tsnet reference peer (tools/interop/gopeer), started against a control URL with an auth key.
// It prints one JSON line when up; the fixture returns it parsed, with the node's addresses.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, Proc, waitUntil } from './proc.js';
import { requireBinary } from './status.js';

export interface GoPeerOptions {
  controlUrl: string;
  /** Not needed when `dir` holds the state of an earlier run. */
  authKey?: string;
  hostname?: string;
  /** State directory; pass the `dir` of a closed peer to restart the same node. Default: a fresh one. */
  dir?: string;
  /** UDP port for WireGuard/disco (default: a free one). */
  port?: number;
  ephemeral?: boolean;
  /** Tailnet ports to serve (see gopeer -help). */
  echo?: number;
  udpEcho?: number;
  sink?: number;
  source?: number;
  sourceBytes?: number;
  whois?: number;
  /** After coming up: dial host:port, send dialData, print the reply as a {"type":"dial"} line. */
  dial?: string;
  dialData?: string;
  /** Extra environment, e.g. `derper.clientEnv`. */
  env?: Record<string, string>;
  /** TS_DEBUG_ALWAYS_USE_DERP=1: no UDP socket at all, so every path to this node goes over DERP. */
  alwaysDerp?: boolean;
  /** Advertise local interface addresses as endpoints (default false: only STUN-derived 127.0.0.1 ones). */
  advertiseLocalAddrs?: boolean;
  upTimeoutMs?: number;
}

/** The {"type":"up"} line gopeer prints. */
export interface GoPeerUp {
  type: 'up';
  backendState: string;
  tailscaleIPs: string[];
  self: { id?: string; dnsName?: string; hostName?: string; publicKey?: string };
  listen: Record<string, number>;
  pid: number;
}

export interface GoPeer {
  dir: string;
  hostname: string;
  port: number;
  up: GoPeerUp;
  ip4: string;
  ip6: string;
  /** Every JSON line printed so far. */
  lines(): Array<Record<string, unknown>>;
  /** Waits for a JSON line satisfying `pred`. */
  waitForLine(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  logs(): string;
  /** Stops the peer; its state dir (also a `dir` the caller passed) is deleted unless `keepState`. */
  close(opts?: { keepState?: boolean }): Promise<void>;
}

export async function startGoPeer(opts: GoPeerOptions): Promise<GoPeer> {
  const bin = requireBinary('gopeer');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tsnet-gopeer-'));
  const hostname = opts.hostname ?? 'gopeer';
  const port = opts.port ?? (await freeUdpPort(true));
  const args = ['-control-url', opts.controlUrl, '-dir', dir, '-hostname', hostname, '-port', String(port)];
  if (opts.authKey !== undefined) args.push('-authkey', opts.authKey);
  if (opts.ephemeral === true) args.push('-ephemeral');
  const portFlags: Array<[keyof GoPeerOptions, string]> = [
    ['echo', '-echo'],
    ['udpEcho', '-udp-echo'],
    ['sink', '-sink'],
    ['source', '-source'],
    ['sourceBytes', '-source-bytes'],
    ['whois', '-whois'],
  ];
  for (const [k, flag] of portFlags) {
    const v = opts[k];
    if (typeof v === 'number') args.push(flag, String(v));
  }
  if (opts.dial !== undefined) args.push('-dial', opts.dial);
  if (opts.dialData !== undefined) args.push('-dial-data', opts.dialData);
  const upTimeoutMs = opts.upTimeoutMs ?? 30_000;
  args.push('-up-timeout', `${Math.ceil(upTimeoutMs / 1000)}s`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TS_DISABLE_PORTMAPPER: '1',
    TS_NO_LOGS_NO_SUPPORT: 'true',
    ...(opts.advertiseLocalAddrs === true ? {} : { TS_DEBUG_OMIT_LOCAL_ADDRS: '1' }),
    ...(opts.alwaysDerp === true ? { TS_DEBUG_ALWAYS_USE_DERP: '1' } : {}),
    ...opts.env,
  };
  const lines: Array<Record<string, unknown>> = [];
  const proc = new Proc(`gopeer ${hostname}`, bin, args, {
    env,
    cwd: dir,
    onStdoutLine: (l) => {
      if (!l.startsWith('{')) return;
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not ours
      }
    },
  });
  const close = async (o: { keepState?: boolean } = {}) => {
    await proc.stop();
    if (o.keepState !== true) rmSync(dir, { recursive: true, force: true });
  };
  const waitForLine = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    waitUntil(
      'a gopeer status line',
      () => {
        const l = lines.find(pred);
        if (l === undefined && proc.exitInfo !== null)
          throw new Error(`gopeer exited (${proc.exitInfo.code})`);
        return l;
      },
      { timeoutMs, intervalMs: 50 },
    );

  let up: GoPeerUp;
  try {
    const l = await waitForLine((x) => x.type === 'up' || x.type === 'error', upTimeoutMs + 5000);
    if (l.type === 'error') throw new Error(`gopeer could not come up: ${String(l.error)}`);
    up = l as unknown as GoPeerUp;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const tail = proc.logs().slice(-4000);
    await close();
    throw new Error(`startGoPeer failed: ${msg}\n${tail}`);
  }
  return {
    dir,
    hostname,
    port,
    up,
    ip4: up.tailscaleIPs.find((a) => a.includes('.')) ?? '',
    ip6: up.tailscaleIPs.find((a) => a.includes(':')) ?? '',
    lines: () => lines,
    waitForLine,
    logs: () => proc.logs(),
    close,
  };
}
