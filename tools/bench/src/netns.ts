/**
 * The bench runs inside a network namespace of its own (when it can: root and `ip netns`), so its
 * loopback carries only its own traffic and packet loss can be added there with nftables without
 * touching the machine's. The namespace is `tsnet-bench-<pid>`; namespaces of dead bench runs are
 * swept first.
 */
import { spawn, spawnSync } from 'node:child_process';

export const NETNS_ENV = 'TSNET_BENCH_NETNS';
const TABLE = 'tsnetbench';

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether we can make a namespace here (root, `ip netns`). */
export function canUseNetns(): boolean {
  return process.getuid?.() === 0 && ip(['netns', 'list']).ok;
}

/** Deletes `tsnet-bench-<pid>` namespaces whose pid is gone. */
export function sweepStaleNamespaces(): void {
  for (const line of ip(['netns', 'list']).out.split('\n')) {
    const m = line.match(/^tsnet-bench-(\d+)/);
    if (m !== null && !alive(Number(m[1]))) ip(['netns', 'del', `tsnet-bench-${m[1]}`]);
  }
}

/**
 * Runs this same script (same Node flags, same arguments) inside a fresh namespace (lo and a
 * private veth pair), passing its output through; deletes the namespace afterwards. Resolves with its exit code.
 */
export async function reexecInNetns(): Promise<number> {
  sweepStaleNamespaces();
  const ns = `tsnet-bench-${process.pid}`;
  const add = ip(['netns', 'add', ns]);
  if (!add.ok) throw new Error(`ip netns add ${ns}: ${add.out}`);
  const cleanup = () => ip(['netns', 'del', ns]);
  process.once('exit', cleanup);
  try {
    // lo, plus a veth pair with an address and a default route that never leaves the namespace:
    // Go's netmon sees no usable interface on a bare lo, thinks the machine is offline and pauses
    // its control client. Nodes are told not to advertise local addresses, so nothing uses it.
    const setup = [
      ['link', 'set', 'lo', 'up'],
      ['link', 'add', 'bench0', 'type', 'veth', 'peer', 'name', 'bench1'],
      ['addr', 'add', '10.254.0.1/24', 'dev', 'bench0'],
      ['link', 'set', 'bench0', 'up'],
      ['link', 'set', 'bench1', 'up'],
      ['route', 'add', 'default', 'dev', 'bench0'],
    ];
    for (const s of setup) {
      const r = ip(['netns', 'exec', ns, 'ip', ...s]);
      if (!r.ok) throw new Error(`ip ${s.join(' ')} in ${ns}: ${r.out}`);
    }
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
      { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: ns } },
    );
    const onSig = () => child.kill('SIGTERM');
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    const code = await new Promise<number>((resolve) => {
      child.once('exit', (c, s) => resolve(c ?? (s !== null ? 128 : 1)));
      child.once('error', () => resolve(127));
    });
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    return code;
  } finally {
    cleanup();
    process.off('exit', cleanup);
  }
}

function nft(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('nft', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/**
 * Drops `pct` percent of UDP packets leaving any socket in this namespace (on loopback each packet
 * leaves once, so that is the loss each way). Only inside our namespace; throws elsewhere.
 */
export function setUdpLoss(pct: number): void {
  if (process.env[NETNS_ENV] === undefined) throw new Error('packet loss only inside the bench namespace');
  clearUdpLoss();
  const steps = [
    ['add', 'table', 'inet', TABLE],
    ['add', 'chain', 'inet', TABLE, 'out', '{ type filter hook output priority 0; }'],
    [
      'add',
      'rule',
      'inet',
      TABLE,
      'out',
      'meta',
      'l4proto',
      'udp',
      'numgen',
      'random',
      'mod',
      '10000',
      `<`,
      String(Math.round(pct * 100)),
      'drop',
    ],
  ];
  for (const s of steps) {
    const r = nft(s);
    if (!r.ok) throw new Error(`nft ${s.join(' ')}: ${r.out}`);
  }
}

export function clearUdpLoss(): void {
  if (process.env[NETNS_ENV] === undefined) return;
  nft(['delete', 'table', 'inet', TABLE]);
}

export function nftAvailable(): boolean {
  return nft(['--version']).ok;
}
