// Builds and runs test/goderp (Tailscale's own Go code, unmodified, at v1.102.3): the derphttp
// client pair that checks our server, and the Go test control server. Built once into the interop
// cache, keyed by a hash of its sources.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, isCI, run } from '@tsnet/interop';

const SRC = join(dirname(fileURLToPath(import.meta.url)), 'goderp');

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) h.update(readFileSync(join(SRC, f)));
  return h.digest('hex').slice(0, 16);
}

let built: { path: string } | { missing: string } | undefined;

/** The goderp binary, building it if needed (bounded: 10 min), or why it cannot be had. */
export function goderpBinary(): { path: string } | { missing: string } {
  built ??= build();
  return built;
}

function build(): { path: string } | { missing: string } {
  const out = join(cacheRoot(), 'derp-goderp', `goderp-${sourceHash()}`);
  if (existsSync(out)) return { path: out };
  const go = spawnSync('go', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (go.status !== 0) return { missing: 'the Go toolchain (go on PATH) to build test/goderp' };
  mkdirSync(dirname(out), { recursive: true });
  let err = '';
  // Offline first (the module cache the interop installer filled), then the configured proxy.
  for (const proxy of ['off', process.env.GOPROXY ?? 'https://proxy.golang.org,direct']) {
    const r = spawnSync('go', ['build', '-tags', 'ts_debug_websockets', '-o', out, '.'], {
      cwd: SRC,
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: proxy, GOSUMDB: 'off' },
    });
    if (r.status === 0 && existsSync(out)) return { path: out };
    err = (r.stderr ?? '').slice(-800);
  }
  return { missing: `go build of test/goderp failed: ${err}` };
}

/** Skip (or under CI=true fail) when goderp cannot be built. */
export function goderpMissing(): string | null {
  const b = goderpBinary();
  return 'missing' in b ? b.missing : null;
}

export { isCI };

/** Runs `goderp relay` and returns its JSON events, stderr, and exit code. */
export async function goderpRelay(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ events: Array<Record<string, unknown>>; code: number; stderr: string }> {
  const b = goderpBinary();
  if ('missing' in b) throw new Error(b.missing);
  const r = await run(b.path, ['relay', ...args], {
    timeoutMs: opts.timeoutMs ?? 90_000,
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { events, code: r.code, stderr: r.stderr };
}
