import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discardLogf, NodePrivate } from '@tsnet/core';
import { DerpClient } from '@tsnet/derp';
import { afterEach, describe, expect, it } from 'vitest';
import { parseOptions } from '../src/options.js';
import { type RunningDerper, runDerper } from '../src/run.js';

const running: RunningDerper[] = [];
const clients: DerpClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const r of running.splice(0)) await r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnet-derper-test-'));
  dirs.push(d);
  return d;
}

async function twoClients(make: () => DerpClient): Promise<number> {
  const a = make();
  const b = make();
  clients.push(a, b);
  await Promise.all([a.connect(), b.connect()]);
  let got = 0;
  b.on('packet', () => got++);
  for (let i = 0; i < 100; i++) a.send(b.publicKey, new Uint8Array(500));
  const deadline = Date.now() + 5000;
  while (got < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return got;
}

describe('tsnet-derper options', () => {
  it('defaults, both flag forms, and errors that name the flag', () => {
    const d = parseOptions([]);
    expect(d.addr).toBe('127.0.0.1:3340');
    expect(d.certMode).toBe('none');
    expect(d.stunPort).toBe(3478);
    const o = parseOptions([
      '-a',
      '127.0.0.1:0',
      '--stun-port=0',
      '--certmode',
      'self-signed',
      '--stun=false',
      '-v',
    ]);
    expect(o).toMatchObject({
      addr: '127.0.0.1:0',
      stunPort: 0,
      certMode: 'self-signed',
      stun: false,
      verbose: true,
    });
    expect(parseOptions(['--tls-cert', 'c.pem', '--tls-key', 'k.pem']).certMode).toBe('manual');
    expect(parseOptions(['--', '--addr', '127.0.0.1:1']).addr).toBe('127.0.0.1:1'); // pnpm start -- …
    expect(() => parseOptions(['--nope'])).toThrow(/unknown flag: --nope/);
    expect(() => parseOptions(['--certmode', 'acme'])).toThrow(/--certmode/);
    expect(() => parseOptions(['--tls-cert', 'c.pem'])).toThrow(/go together/);
    expect(() => parseOptions(['--addr', 'nohost'])).toThrow(/--addr/);
    expect(() => parseOptions(['--stun-port', 'x'])).toThrow(/--stun-port/);
    expect(() => parseOptions(['--mesh-with', 'http://a/derp'])).toThrow(/--mesh-psk-file/);
    expect(
      parseOptions(['--mesh-psk-file', 'k', '--mesh-with', 'http://a/derp, http://b/derp']).meshWith,
    ).toEqual(['http://a/derp', 'http://b/derp']);
  });
});

describe('tsnet-derper', () => {
  it('plain HTTP: two clients relay through it; STUN answers', async () => {
    const r = await runDerper(parseOptions(['--addr', '127.0.0.1:0', '--stun-port', '0']), discardLogf);
    running.push(r);
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/derp$/);
    expect(await twoClients(() => new DerpClient({ privateKey: NodePrivate.generate(), url: r.url }))).toBe(
      100,
    );
    const sock = createSocket('udp4');
    try {
      const req = new Uint8Array(20);
      req.set([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
      const reply = new Promise<Buffer>((resolve) => sock.once('message', resolve));
      sock.send(req, r.stunPort, '127.0.0.1');
      const m = await Promise.race([reply, new Promise<null>((res) => setTimeout(() => res(null), 3000))]);
      expect(m?.[0]).toBe(1);
      expect(m?.[1]).toBe(1);
    } finally {
      sock.close();
    }
  });

  it('self-signed TLS: prints a pinned DERP node that a region client accepts; the key file persists', async () => {
    const dir = tmp();
    const config = join(dir, 'derper.key');
    const args = ['--addr', '127.0.0.1:0', '--stun=false', '--certmode', 'self-signed', '-c', config];
    const r = await runDerper(parseOptions(args), discardLogf);
    running.push(r);
    expect(r.node.CertName).toMatch(/^sha256-raw:[0-9a-f]{64}$/);
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const region = { RegionID: 900, RegionCode: 'ts', Nodes: [r.node] };
    expect(await twoClients(() => new DerpClient({ privateKey: NodePrivate.generate(), region }))).toBe(100);
    const firstKey = r.server.publicKey.toString();
    await r.close();
    running.pop();
    const again = await runDerper(parseOptions(args), discardLogf);
    running.push(again);
    expect(again.server.publicKey.toString()).toBe(firstKey);
    expect(again.node.CertName).toBe(r.node.CertName);
  });

  it('runs as a command: serves until SIGTERM', async () => {
    const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'main.ts');
    const child = spawn(
      process.execPath,
      ['--conditions=@tsnet/source', '--import', 'tsx', main, '--addr', '127.0.0.1:0', '--stun=false'],
      {
        cwd: join(dirname(main), '..'),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const t = setTimeout(() => reject(new Error(`no URL from tsnet-derper: ${buf}`)), 20_000);
        child.stderr.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /serving DERP on (\S+)/.exec(buf);
          if (m?.[1] !== undefined) {
            clearTimeout(t);
            resolve(m[1]);
          }
        });
      });
      expect(await twoClients(() => new DerpClient({ privateKey: NodePrivate.generate(), url }))).toBe(100);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))])).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
