import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { TestTailnet } from '@tsnet/testcontrol';
import { Server } from 'tsnet';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'src', 'main.ts');
const tsxCli = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'cli.mjs');

/** The environment without the variables that point a node at a real tailnet. */
function envWithoutTailnet(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['TS_AUTHKEY', 'TS_AUTH_KEY', 'TS_CONTROL_URL', 'TSNET_FORCE_LOGIN']) delete env[k];
  return env;
}

describe('the README demo', () => {
  it('runs a tailnet in-process (DERP, then direct) and the bare layers, then exits by itself', () => {
    const r = spawnSync(process.execPath, [tsxCli, '--conditions=@tsnet/source', main], {
      encoding: 'utf8',
      timeout: 90_000,
      env: envWithoutTailnet(), // a TS_AUTHKEY in the caller's shell would switch the demo to it
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

describe('the README demo with TS_AUTHKEY (a real tailnet; here the in-process one, by TS_CONTROL_URL)', () => {
  let tailnet: TestTailnet | undefined;
  let root = '';
  let child: ChildProcess | undefined;
  let caller: Server | undefined;

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await caller?.close();
    await tailnet?.close();
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  /** Resolves once stdout matches `re`; rejects if the process exits first or after `ms`. */
  function waitFor(p: ChildProcess, out: () => string, re: RegExp, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        p.stdout?.off('data', check);
        p.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (re.test(out())) done();
      };
      const onExit = (code: number | null) =>
        done(new Error(`demo exited (${code}) before ${re}:\n${out()}`));
      const timer = setTimeout(() => done(new Error(`no ${re} within ${ms} ms:\n${out()}`)), ms);
      p.stdout?.on('data', check);
      p.once('exit', onExit);
      check();
    });
  }

  /** GET / over a tailnet stream: no `agent` (so `createConnection` is used), an unresolvable host. */
  function get(sock: Duplex, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: 'x.invalid', path: '/', headers: { host }, createConnection: () => sock as never },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        },
      );
      req.setTimeout(15_000, () => req.destroy(new Error('GET timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  it('joins the tailnet, serves the hello app to another node, and exits 0 on SIGINT', async () => {
    tailnet = await TestTailnet.start();
    root = mkdtempSync(join(tmpdir(), 'tsnet-demo-'));
    let stdout = '';
    let stderr = '';
    child = spawn(
      process.execPath,
      [
        tsxCli,
        '--conditions=@tsnet/source',
        main,
        '--dir',
        join(root, 'demo'),
        '--ephemeral',
        '--listen-address',
        '127.0.0.1',
      ],
      {
        env: {
          ...envWithoutTailnet(),
          TS_AUTHKEY: tailnet.createAuthKey(),
          TS_CONTROL_URL: tailnet.controlURL,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const p = child;
    p.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    await waitFor(p, () => stdout, /Press Ctrl-C to stop/, 60_000);
    // The node's name, its IPs and how to reach it.
    expect(stdout).toContain('TS_AUTHKEY is set: joining that tailnet as tsnet-demo');
    expect(stdout).toContain(`control server ${tailnet.controlURL}`);
    expect(stdout).toMatch(
      new RegExp(
        `tsnet-demo is on the tailnet as tsnet-demo\\.${tailnet.domain} \\(100\\.64\\.\\d+\\.\\d+, fd7a:`,
      ),
    );
    expect(stdout).toContain('curl http://tsnet-demo/');
    expect(stdout).toContain('The node is ephemeral');
    expect(stdout).not.toContain('Part 1'); // not the in-process tailnet
    expect(existsSync(join(root, 'demo', 'tailscaled.state'))).toBe(true);
    expect(tailnet.node('tsnet-demo')?.ephemeral).toBe(true);

    caller = new Server({
      hostname: 'visitor',
      controlUrl: tailnet.controlURL,
      authKey: tailnet.createAuthKey(),
      dir: join(root, 'visitor'),
      listenAddress: '127.0.0.1',
      userLogf: () => {},
    });
    const sock = await caller.dial('tcp', 'tsnet-demo:80', { timeoutMs: 30_000 });
    const login = tailnet.node(caller.tailscaleIPs().ip4 ?? '')?.user.loginName;
    expect(login).toBe('user@example.com');
    expect(await get(sock, 'tsnet-demo')).toBe(`200 Hello, ${login}!`);
    await waitFor(
      p,
      () => stdout,
      /hello: GET \/ from 100\.64\.\d+\.\d+:\d+ \(user@example\.com\): 200/,
      15_000,
    );

    const exited = once(p, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    p.kill('SIGINT');
    const [code, signal] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no exit 30 s after SIGINT:\n${stdout}\n${stderr}`)), 30_000),
      ),
    ]);
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(stdout).toMatch(/SIGINT: closing/);
    expect(stdout).toMatch(/closed tsnet-demo \(logged out/);
    // An ephemeral node that logged out is gone from the tailnet.
    expect(tailnet.node('tsnet-demo')).toBeUndefined();
  }, 120_000);
});
