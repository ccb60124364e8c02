/**
 * Builds tools/bench/goclient (the Go tsnet client of the bench) into the interop cache, next to
 * gopeer: `<cache>/bin/benchgoclient-<hash>`, the hash over its go.mod, go.sum and main.go, so an
 * edit rebuilds it and older builds are removed. Never committed.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinnedDir } from '@tsnet/interop';

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'goclient');

export function goclientHash(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(srcDir, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/** The path of the current build, building it first if needed (bounded: 15 min). */
export function ensureGoclient(say: (s: string) => void): string {
  const binDir = join(pinnedDir(), 'bin');
  const name = `benchgoclient-${goclientHash()}`;
  const path = join(binDir, name);
  if (existsSync(path)) return path;
  mkdirSync(binDir, { recursive: true });
  say(`building ${name} (go build in tools/bench/goclient; seconds with warm Go caches)…`);
  const started = Date.now();
  const r = spawnSync('go', ['build', '-mod=readonly', '-o', `${path}.tmp`, '.'], {
    cwd: srcDir,
    env: { ...process.env, GOFLAGS: '-buildvcs=false' },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    throw new Error(
      `go build of tools/bench/goclient failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`,
    );
  }
  renameSync(`${path}.tmp`, path);
  for (const f of readdirSync(binDir)) {
    if (f.startsWith('benchgoclient-') && f !== name) rmSync(join(binDir, f), { force: true });
  }
  say(`built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return path;
}
