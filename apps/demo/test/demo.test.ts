import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'src', 'main.ts');
const tsxCli = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'cli.mjs');

describe('the README demo', () => {
  it('runs a tailnet in-process (DERP, then direct) and the bare layers, then exits by itself', () => {
    const r = spawnSync(process.execPath, [tsxCli, '--conditions=@tsnet/source', main], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0); // a leaked socket or timer would keep it alive until the timeout kills it
    // Part 1: two tsnet nodes on an in-process tailnet; the caller is named from the netmap.
    expect(r.stdout).toMatch(/GET http:\/\/alpha\/ → 200 Hello, beta\.tailnet\.test \(user@example\.com\)!/);
    expect(r.stdout).toMatch(/beta → alpha path: DERP region \d+/);
    expect(r.stdout).toMatch(/path is now direct UDP 127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/packets: [1-9]\d* sent via DERP, [1-9]\d* direct/);
    expect(r.stdout).toContain('closed both nodes and the tailnet');
    // Part 2: the layers alone.
    expect(r.stdout).toMatch(/ping 10\.77\.0\.1 → [0-9.]+ ms/);
    expect(r.stdout).toMatch(/GET http:\/\/10\.77\.0\.1\/demo → 200 Hello from node A, 10\.77\.0\.2:\d+!/);
    expect(r.stdout).toMatch(/wg show → endpoint 127\.0\.0\.1:\d+, rx [1-9]\d* B, tx [1-9]\d* B/);
    expect(r.stdout).toContain('closed both nodes');
  }, 120_000);
});
