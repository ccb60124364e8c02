// A real WireGuard peer whose IP stack is the Linux kernel's: Debian's wireguard-go runs in the root
// namespace (its UDP socket is reached on 127.0.0.1), its TUN interface is moved into a network
// namespace this fixture creates, and the tunnel addresses live only inside that namespace.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freeUdpPort,
  Proc,
  randomId,
  run,
  runOk,
  trackChild,
  trackNamespace,
  untrackNamespace,
} from './proc.js';
import { interopAvailable } from './status.js';

export interface WgNetnsPeerOptions {
  peerPublicKey: string /* base64 */;
  peerAllowedIps: string[];
  peerEndpoint?: string /* "127.0.0.1:port" */;
  presharedKey?: string /* base64 */;
  persistentKeepalive?: number;
  mtu?: number;
  /** The kernel's tunnel addresses inside the namespace (default 10.201.0.1/24 and fd00:201::1/64). */
  address4?: string;
  address6?: string;
}

export interface WgNetnsPeer {
  namespace: string;
  ifname: string;
  privateKey: string;
  publicKey: string; // base64, generated with `wg genkey`/`wg pubkey`
  listenPort: number; // UDP on 127.0.0.1 in the root namespace
  address4: string;
  address6: string; // the kernel's tunnel addresses (no prefix length)
  /** Suggested tunnel addresses for the caller's side, in the same /24 and /64 (default 10.201.0.2, fd00:201::2). */
  peerAddress4: string;
  peerAddress6: string;
  exec(
    cmd: string[],
    opts?: { timeoutMs?: number; input?: Uint8Array },
  ): Promise<{ stdout: string; stderr: string; code: number }>; // runs inside the namespace (ip netns exec)
  spawn(cmd: string[]): ChildProcess; // long-running process inside the namespace, killed by close()
  wgShow(): Promise<{ latestHandshake: number; rxBytes: number; txBytes: number; endpoint: string | null }>; // from `wg show <if> dump`
  setPeer(opts: Partial<WgNetnsPeerOptions>): Promise<void>;
  logs(): string;
  close(): Promise<void>; // kills wireguard-go and spawned processes, deletes the namespace and interface
}

const ADDRESS4 = '10.201.0.1';
const ADDRESS6 = 'fd00:201::1';

/** The other host address in the same subnet: .1 <-> .2, ::1 <-> ::2. */
function otherHost(addr: string): string {
  const sep = addr.includes(':') ? ':' : '.';
  const i = addr.lastIndexOf(sep);
  const last = addr.slice(i + 1);
  const other = last === '2' ? '1' : '2';
  return `${addr.slice(0, i + 1)}${other}`;
}

/** Deletes `tsnet-wg-<pid>-*` namespaces whose process is gone (left by a test run that was killed). */
async function sweepStaleNamespaces(): Promise<void> {
  const r = await run('ip', ['netns', 'list'], { timeoutMs: 5000 });
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^(tsnet-wg-(\d+)-[0-9a-f]+)/);
    if (m?.[1] === undefined) continue;
    let alive = true;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      alive = false;
    }
    if (!alive) await run('ip', ['netns', 'del', m[1]], { timeoutMs: 5000 });
  }
}

/** Starts wireguard-go with one peer (the caller) and puts its interface into a fresh namespace. */
export async function startWgNetnsPeer(opts: WgNetnsPeerOptions): Promise<WgNetnsPeer> {
  const avail = interopAvailable('wireguard');
  if (!avail.ok) throw new Error(`startWgNetnsPeer: missing ${avail.missing}`);

  const address4 = opts.address4 ?? ADDRESS4;
  const address6 = opts.address6 ?? ADDRESS6;
  const id = randomId(4);
  const ifname = `tswg${id}`; // <= 15 characters
  const namespace = `tsnet-wg-${process.pid}-${id}`;
  await sweepStaleNamespaces();
  const dir = mkdtempSync(join(tmpdir(), `tsnet-wg-${id}-`));
  const notes: string[] = [];
  const note = (s: string) => notes.push(`[wg-netns ${new Date().toISOString()}] ${s}`);
  const spawned = new Set<ChildProcess>();
  let wg: Proc | null = null;
  let nsCreated = false;
  let closed = false;
  let current: WgNetnsPeerOptions = { ...opts, peerAllowedIps: [...opts.peerAllowedIps] };

  const step = async (cmd: string, args: string[], input?: string) => {
    note(`$ ${cmd} ${args.join(' ')}`);
    const r = await run(cmd, args, { timeoutMs: 10_000, ...(input !== undefined ? { input } : {}) });
    if (r.stdout.trim() !== '') note(r.stdout.trimEnd());
    if (r.stderr.trim() !== '') note(r.stderr.trimEnd());
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };

  const logs = () => [...notes, '--- wireguard-go ---', wg?.logs() ?? '(not started)'].join('\n');

  const close = async () => {
    if (closed) return;
    closed = true;
    for (const c of spawned) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    await Promise.all(
      [...spawned].map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => {
              const t = setTimeout(r, 3000);
              c.once('exit', () => {
                clearTimeout(t);
                r();
              });
            }),
      ),
    );
    if (nsCreated) await run('ip', ['-n', namespace, 'link', 'del', ifname], { timeoutMs: 5000 });
    if (wg !== null) await wg.stop(2000);
    if (nsCreated) {
      await run('ip', ['netns', 'del', namespace], { timeoutMs: 5000 });
      untrackNamespace(namespace);
    }
    // A TUN interface that never left the root namespace goes away with wireguard-go; make sure.
    await run('ip', ['link', 'del', ifname], { timeoutMs: 5000 });
    rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  /** `wg set` for the peer in `o`; `previousKey` is removed first when the key changed. */
  const applyPeer = async (o: WgNetnsPeerOptions, previousKey?: string) => {
    if (previousKey !== undefined && previousKey !== o.peerPublicKey) {
      await step('wg', ['set', ifname, 'peer', previousKey, 'remove']);
    }
    const args = ['set', ifname, 'peer', o.peerPublicKey, 'allowed-ips', o.peerAllowedIps.join(',')];
    if (o.presharedKey !== undefined) {
      const f = join(dir, 'psk');
      writeFileSync(f, `${o.presharedKey}\n`, { mode: 0o600 });
      args.push('preshared-key', f);
    }
    if (o.peerEndpoint !== undefined) args.push('endpoint', o.peerEndpoint);
    if (o.persistentKeepalive !== undefined) args.push('persistent-keepalive', String(o.persistentKeepalive));
    await step('wg', args);
  };

  try {
    const privateKey = (await runOk('wg', ['genkey'])).trim();
    const publicKey = (await runOk('wg', ['pubkey'], { input: `${privateKey}\n` })).trim();
    const keyFile = join(dir, 'private.key');
    writeFileSync(keyFile, `${privateKey}\n`, { mode: 0o600 });

    // wireguard-go in the foreground; it creates the TUN and the UAPI socket /var/run/wireguard/<if>.sock.
    wg = new Proc(`wireguard-go ${ifname}`, 'wireguard-go', ['-f', ifname], {
      env: { ...process.env, LOG_LEVEL: 'verbose', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    });
    const wgProc = wg;
    await wgProc.waitForLog(/UAPI listener started/, 10_000, 'the UAPI listener');

    // wireguard-go binds UDP on every address (once the interface is up); pick a port free on both.
    const listenPort = await freeUdpPort(true);
    await step('wg', ['set', ifname, 'private-key', keyFile, 'listen-port', String(listenPort)]);
    await applyPeer(current);

    await step('ip', ['netns', 'add', namespace]);
    nsCreated = true;
    trackNamespace(namespace);
    await step('ip', ['link', 'set', ifname, 'netns', namespace]);
    const nsIp = (args: string[]) => step('ip', ['-n', namespace, ...args]);
    await nsIp(['link', 'set', 'lo', 'up']);
    if (opts.mtu !== undefined) await nsIp(['link', 'set', ifname, 'mtu', String(opts.mtu)]);
    await nsIp(['addr', 'add', `${address4}/24`, 'dev', ifname]);
    await nsIp(['-6', 'addr', 'add', `${address6}/64`, 'dev', ifname, 'nodad']);
    await nsIp(['link', 'set', ifname, 'up']);

    // wireguard-go notices the interface went up by polling the TUN (about once a second) and only
    // then binds its UDP socket. Wait for that: the socket must answer before the caller sends.
    await wgProc.waitForLog(/UDP bind has been updated/, 10_000, 'its UDP bind (interface up)');

    const peer: WgNetnsPeer = {
      namespace,
      ifname,
      privateKey,
      publicKey,
      listenPort,
      address4,
      address6,
      peerAddress4: otherHost(address4),
      peerAddress6: otherHost(address6),
      async exec(cmd, o = {}) {
        note(`$ (in ${namespace}) ${cmd.join(' ')}`);
        return run('ip', ['netns', 'exec', namespace, ...cmd], {
          timeoutMs: o.timeoutMs ?? 10_000,
          ...(o.input !== undefined ? { input: o.input } : {}),
        });
      },
      spawn(cmd) {
        if (closed) throw new Error('WgNetnsPeer is closed');
        note(`$ (in ${namespace}, background) ${cmd.join(' ')}`);
        const c = spawn('ip', ['netns', 'exec', namespace, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
        spawned.add(c);
        trackChild(c);
        c.once('exit', (code, sig) => note(`(background ${cmd[0]} exited: ${sig ?? code})`));
        return c;
      },
      async wgShow() {
        const out = await runOk('wg', ['show', ifname, 'dump'], { timeoutMs: 5000 });
        const lines = out.trim().split('\n');
        const want = current.peerPublicKey;
        const line = lines.slice(1).find((l) => l.split('\t')[0] === want) ?? lines[1];
        if (line === undefined) return { latestHandshake: 0, rxBytes: 0, txBytes: 0, endpoint: null };
        // public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
        const f = line.split('\t');
        const endpoint = f[2] === undefined || f[2] === '(none)' ? null : f[2];
        return {
          latestHandshake: Number(f[4] ?? 0),
          rxBytes: Number(f[5] ?? 0),
          txBytes: Number(f[6] ?? 0),
          endpoint,
        };
      },
      async setPeer(o) {
        const next: WgNetnsPeerOptions = { ...current };
        for (const [k, v] of Object.entries(o)) {
          if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
        }
        await applyPeer(next, current.peerPublicKey);
        if (o.mtu !== undefined && o.mtu !== current.mtu) {
          await step('ip', ['-n', namespace, 'link', 'set', ifname, 'mtu', String(o.mtu)]);
        }
        current = next;
      },
      logs,
      close,
    };
    return peer;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const tail = logs().slice(-4000);
    await close();
    throw new Error(`startWgNetnsPeer failed: ${msg}\n${tail}`);
  }
}
