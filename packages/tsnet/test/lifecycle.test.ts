// Process-level lifecycle: a program that closes its Servers exits by itself (nothing left
// holding the event loop), and a FileStore killed with SIGKILL mid-write leaves a readable state.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../src/state/store.js';

const here = dirname(fileURLToPath(import.meta.url));
// `node --import tsx` (not the tsx CLI, which runs the script in a grandchild that a kill would miss).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const root = mkdtempSync(join(tmpdir(), 'tsnet-life-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runChild(
  script: string,
  args: string[],
  opts: { timeoutMs: number; onLine?: (line: string, kill: () => void) => void },
): Promise<{ code: number | null; signal: string | null; out: string; err: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@tsnet/source', '--import', tsxLoader, join(here, 'fixtures', script), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of d.toString().split('\n'))
        if (line !== '') opts.onLine?.(line, () => child.kill('SIGKILL'));
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out, err, timedOut });
    });
  });
}

describe('lifecycle', () => {
  it('a program that closes its Servers exits by itself (no handle left behind)', async () => {
    const r = await runChild('exits-by-itself.ts', [], { timeoutMs: 90_000 });
    expect(r.timedOut, `the process did not exit by itself; stderr:\n${r.err.slice(-2000)}`).toBe(false);
    expect(r.out).toContain('done bye ping');
    expect(r.code).toBe(0);
  }, 100_000);

  it('a FileStore killed with SIGKILL mid-write leaves the old state or the new, never a torn file', async () => {
    for (let round = 0; round < 4; round++) {
      const path = join(root, `kill-${round}`, 'tailscaled.state');
      const r = await runChild('store-writer.ts', [path], {
        timeoutMs: 60_000,
        onLine: (line, kill) => {
          if (line === 'ready') setTimeout(kill, 300 + Math.floor(Math.random() * 700));
        },
      });
      expect(r.signal).toBe('SIGKILL');
      expect(r.timedOut).toBe(false);
      const store = new FileStore(path);
      const big = Buffer.from(store.get('big') ?? new Uint8Array());
      const gen = Number(Buffer.from(store.get('gen') ?? new Uint8Array()).toString());
      expect(big.length).toBe(64 * 1024);
      const n = big.readUInt32BE(0);
      expect(n).toBeGreaterThan(0);
      expect(big.subarray(4).every((b) => b === n % 251)).toBe(true);
      expect([n, n - 1]).toContain(gen);
      // Temporary files of an interrupted write may remain; the state file itself is whole.
      expect(readdirSync(dirname(path)).filter((f) => f === 'tailscaled.state')).toHaveLength(1);
    }
  }, 120_000);
});
