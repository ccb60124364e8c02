// TestTailnet's lifecycle: start on free 127.0.0.1 ports, close() leaves nothing running (a child
// process that used it exits by itself), untrusted input is refused without a crash.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TestTailnet } from '../src/index.js';
import { join as joinTailnet } from './helpers.js';

const SRC = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const CONTROL = fileURLToPath(new URL('../../control/src/index.ts', import.meta.url));
const CORE = fileURLToPath(new URL('../../core/src/index.ts', import.meta.url));

let tailnet: TestTailnet | null = null;
afterEach(async () => {
  await tailnet?.close();
  tailnet = null;
});

/** Sends raw bytes to a TCP port and returns what comes back before the server closes. */
function raw(port: number, data: string | Uint8Array, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    s.write(data);
  });
}

describe('TestTailnet lifecycle', () => {
  it('listens on 127.0.0.1 free ports and serves /key', async () => {
    tailnet = await TestTailnet.start();
    expect(tailnet.controlURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(tailnet.adminURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(tailnet.stunPort).toBeGreaterThan(0);
    const r = await fetch(`${tailnet.controlURL}/key?v=115`);
    const body = (await r.json()) as { publicKey: string; legacyPublicKey: string };
    expect(body.publicKey).toBe(tailnet.controlKey.public().toString());
    expect(body.legacyPublicKey).toBe(`mkey:${'0'.repeat(64)}`);
    expect((await fetch(`${tailnet.controlURL}/derp/probe`)).status).toBe(200);
  });

  it('lets a child process that used it exit by itself after close()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testcontrol-child-'));
    const script = join(dir, 'child.mts');
    writeFileSync(
      script,
      `import { TestTailnet } from ${JSON.stringify(SRC)};
import { ControlClient } from ${JSON.stringify(CONTROL)};
import { MachinePrivate } from ${JSON.stringify(CORE)};
import { connect } from 'node:net';
const t = await TestTailnet.start({ keepAliveMs: 200 });
const c = new ControlClient({ serverURL: t.controlURL, machineKey: MachinePrivate.generate(), authKey: t.createAuthKey() });
await c.register();
c.start();
await t.waitForNode({ ref: 1, online: true });
await t.ping(1);
await c.close();
// A client that never goes away on its own: the server must cut it.
const s = connect(Number(new URL(t.controlURL).port), '127.0.0.1');
s.on('error', () => {});
await new Promise((r) => s.on('connect', r));
await t.close();
process.stdout.write('closed\\n');
`,
    );
    try {
      const child = spawn(process.execPath, ['--conditions=@tsnet/source', '--import', 'tsx', script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const code = await new Promise<number | string>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('still running 15 s later');
        }, 15_000);
        child.on('exit', (c, sig) => {
          clearTimeout(timer);
          resolve(c ?? String(sig));
        });
      });
      expect(code, err).toBe(0);
      expect(out).toBe('closed\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses malformed handshakes, upgrades and requests without crashing', async () => {
    tailnet = await TestTailnet.start();
    const port = Number(new URL(tailnet.controlURL).port);
    const noHeader = await raw(
      port,
      'POST /ts2021 HTTP/1.1\r\nHost: x\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n',
    );
    expect(noHeader).toContain('400');
    const wrongProto = await raw(
      port,
      'POST /ts2021 HTTP/1.1\r\nHost: x\r\nUpgrade: nope\r\nConnection: upgrade\r\n\r\n',
    );
    expect(wrongProto).toContain('unknown next protocol');
    const junk = Buffer.alloc(101, 7).toString('base64');
    const bad = await raw(
      port,
      `POST /ts2021 HTTP/1.1\r\nHost: x\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\nX-Tailscale-Handshake: ${junk}\r\n\r\n`,
    );
    expect(bad).toContain('101 Switching Protocols');
    expect(bad).toContain('\x03'); // a type-3 error message
    expect(
      await raw(port, 'GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n'),
    ).toContain('404');
    expect(await raw(port, '\x00\x01garbage\r\n\r\n')).not.toContain('200');
    expect(tailnet.stats.noise.handshakeFailures).toBe(1);
    // Still serving.
    const c = await joinTailnet(tailnet, 'after', tailnet.createAuthKey());
    await c.close();
  });

  it('counts protocol versions below minVersion as refused', async () => {
    tailnet = await TestTailnet.start({ minVersion: 200 });
    const c = await import('@tsnet/control');
    const { MachinePrivate } = await import('@tsnet/core');
    const client = new c.ControlClient({
      serverURL: tailnet.controlURL,
      machineKey: MachinePrivate.generate(),
      authKey: tailnet.createAuthKey(),
    });
    await expect(client.register()).rejects.toThrow();
    await client.close();
    expect(tailnet.stats.noise.handshakeFailures).toBeGreaterThan(0);
  });

  it('close() is idempotent and fails pending waits and pings', async () => {
    tailnet = await TestTailnet.start();
    const c = await joinTailnet(tailnet, 'a', tailnet.createAuthKey());
    const wait = tailnet.waitForNode((n) => n.hostname === 'never');
    const t = tailnet;
    await c.close();
    const ping = t.ping('a', { timeoutMs: 60_000 });
    await t.close();
    await t.close();
    await expect(wait).rejects.toThrow(/closed/);
    await expect(ping).rejects.toThrow(/closed/);
  });
});
