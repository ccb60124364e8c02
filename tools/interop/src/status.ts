// Where the installed peers live and what is available here: read from the status.json that
// src/install.mjs writes into the cache, plus live checks for what needs no build (WireGuard, netns).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type InteropWhat = 'wireguard' | 'headscale' | 'derper' | 'tailscaled' | 'gopeer';
export type Availability = { ok: true } | { ok: false; missing: string };

/** tools/interop */
export const interopRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Pins {
  tailscale: string;
  headscale: string;
}

export function pins(): Pins {
  const j = JSON.parse(readFileSync(join(interopRoot, 'pins.json'), 'utf8')) as Pins;
  return { tailscale: j.tailscale, headscale: j.headscale };
}

/** `${TSNET_INTEROP_CACHE:-$HOME/.cache/tsnet-interop}` */
export function cacheRoot(): string {
  const env = process.env.TSNET_INTEROP_CACHE;
  return env !== undefined && env !== '' ? resolve(env) : join(homedir(), '.cache', 'tsnet-interop');
}

/** The cache folder of the pinned versions: `<cache>/tailscale-<v>_headscale-<v>`. */
export function pinnedDir(): string {
  const p = pins();
  return join(cacheRoot(), `tailscale-${p.tailscale}_headscale-${p.headscale}`);
}

/** The hash that keys the gopeer build (same recipe as install.mjs). */
export function gopeerHash(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(interopRoot, 'gopeer', f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

interface ComponentStatus {
  ok: boolean;
  path?: string;
  missing?: string;
}

interface StatusFile {
  components?: Record<string, ComponentStatus>;
}

function readStatus(): StatusFile | null {
  const f = join(pinnedDir(), 'status.json');
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as StatusFile;
  } catch {
    return null;
  }
}

/** Absolute path of an executable on PATH, or null. */
export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin']) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return null;
}

let netnsProbe: Availability | undefined;

/** Root, /dev/net/tun, `ip netns add` and the Debian tools the WireGuard fixture needs. */
function wireguardAvailable(): Availability {
  if (process.platform !== 'linux') return { ok: false, missing: 'Linux (network namespaces)' };
  if (process.getuid?.() !== 0) return { ok: false, missing: 'root (to create network namespaces)' };
  if (!existsSync('/dev/net/tun')) return { ok: false, missing: '/dev/net/tun' };
  const tools = ['wireguard-go', 'wg', 'ip'].filter((t) => which(t) === null);
  if (tools.length > 0) {
    return {
      ok: false,
      missing: `${tools.join(', ')} (apt-get install wireguard-go wireguard-tools iproute2, or node tools/interop/src/install.mjs)`,
    };
  }
  if (netnsProbe === undefined) {
    const ns = `tsnet-probe-${process.pid}`;
    const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0) {
      spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });
      netnsProbe = { ok: true };
    } else {
      netnsProbe = { ok: false, missing: `network namespaces (ip netns add: ${(r.stderr ?? '').trim()})` };
    }
  }
  return netnsProbe;
}

/** The installed binary of a component, or null if install.mjs has not provided it. */
export function binaryPath(
  what: 'tailscaled' | 'tailscale' | 'derper' | 'headscale' | 'gopeer',
): string | null {
  const s = readStatus();
  const c = s?.components?.[what];
  if (c?.ok === true && c.path !== undefined && existsSync(c.path)) {
    if (what !== 'gopeer' || c.path.endsWith(gopeerHash())) return c.path;
  }
  // Fall back to the expected location even without a status file.
  const name = what === 'gopeer' ? `gopeer-${gopeerHash()}` : what;
  const p = join(pinnedDir(), 'bin', name);
  return existsSync(p) ? p : null;
}

/** Whether a fixture can run here; if not, what is missing (for a skip message or a CI failure). */
export function interopAvailable(what: InteropWhat): Availability {
  if (what === 'wireguard') return wireguardAvailable();
  const bins: Array<'tailscaled' | 'tailscale' | 'derper' | 'headscale' | 'gopeer'> =
    what === 'tailscaled' ? ['tailscaled', 'tailscale'] : [what];
  for (const b of bins) {
    if (binaryPath(b) === null) {
      const why = readStatus()?.components?.[b]?.missing;
      return {
        ok: false,
        missing: `${b} (${why ?? `not in ${join(pinnedDir(), 'bin')}`}; run node tools/interop/src/install.mjs)`,
      };
    }
  }
  return { ok: true };
}

/** Like binaryPath, but throws a clear error. */
export function requireBinary(what: 'tailscaled' | 'tailscale' | 'derper' | 'headscale' | 'gopeer'): string {
  const p = binaryPath(what);
  if (p === null) {
    throw new Error(`${what} is not installed in ${pinnedDir()}: run node tools/interop/src/install.mjs`);
  }
  return p;
}
