// The tsnet-proxy command as a user runs it: spawned with tsx, TS_AUTHKEY and TS_CONTROL_URL
// pointing at an in-process tailnet; a node in this process reaches the exposed service through
// it; SIGINT closes everything and the process exits 0 by itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestTailnet } from '@tsnet/testcontrol';
import { Server } from 'tsnet';
import { afterAll, beforeAll, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'src', 'main.ts');
const tsxCli = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'cli.mjs');

let tailnet: TestTailnet;
let root = '';
let child: ChildProcess | undefined;
let caller: Server | undefined;
let service: net.Server | undefined;

beforeAll(async () => {
  tailnet = await TestTailnet.start();
  root = mkdtempSync(join(tmpdir(), 'tsnet-proxy-cli-'));
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  await caller?.close();
  await new Promise((resolve) => (service ? service.close(resolve) : resolve(undefined)));
  await tailnet?.close();
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

/** Resolves with stdout so far once it matches `re`; rejects if the process exits first or after `ms`. */
function waitForOutput(p: ChildProcess, out: () => string, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (re.test(out())) {
        cleanup();
        resolve(out());
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`exited (${code}) before ${re}:\n${out()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${re} within ${ms} ms:\n${out()}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      p.stdout?.off('data', check);
      p.off('exit', onExit);
    };
    p.stdout?.on('data', check);
    p.once('exit', onExit);
    check();
  });
}

it('tsnet-proxy expose: reachable over the tailnet, counts the connection, exits 0 on SIGINT', async () => {
  // The local service: SHA-256 of what it reads, sent back after the caller's FIN.
  service = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.on('data', (c: Buffer) => h.update(c));
    s.on('end', () => s.end(h.digest('hex')));
  });
  service.listen(0, '127.0.0.1');
  await once(service, 'listening');
  const port = (service.address() as net.AddressInfo).port;

  let stdout = '';
  let stderr = '';
  child = spawn(
    process.execPath,
    [
      tsxCli,
      '--conditions=@tsnet/source',
      main,
      'expose',
      `127.0.0.1:${port}`,
      '--as',
      ':8100',
      '--hostname',
      'cli-proxy',
      '--dir',
      join(root, 'proxy'),
      '--listen-address',
      '127.0.0.1',
    ],
    {
      env: { ...process.env, TS_AUTHKEY: tailnet.createAuthKey(), TS_CONTROL_URL: tailnet.controlURL },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const p = child;
  await waitForOutput(p, () => stdout, /Press Ctrl-C to stop/, 60_000);
  expect(stdout).toMatch(
    new RegExp(`127\\.0\\.0\\.1:${port} is on the tailnet as cli-proxy\\.${tailnet.domain}:8100 \\(100\\.`),
  );

  caller = new Server({
    hostname: 'cli-caller',
    controlUrl: tailnet.controlURL,
    authKey: tailnet.createAuthKey(),
    dir: join(root, 'caller'),
    listenAddress: '127.0.0.1',
    userLogf: () => {},
  });
  const payload = randomBytes(64 * 1024);
  const sock = await caller.dial('tcp', 'cli-proxy:8100', { timeoutMs: 30_000 });
  let reply = '';
  sock.setEncoding('utf8').on('data', (c: string) => (reply += c));
  const ended = once(sock, 'end');
  sock.end(payload);
  await ended;
  expect(reply).toBe(createHash('sha256').update(payload).digest('hex'));
  await waitForOutput(p, () => stdout, /expose #1 closed after/, 15_000);

  const exited = once(p, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  p.kill('SIGINT');
  const [code, signal] = await Promise.race([
    exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no exit 20 s after SIGINT:\n${stdout}\n${stderr}`)), 20_000),
    ),
  ]);
  expect({ code, signal, stderr: stderr.replace(/^AuthLoop: .*\n/gm, '') }).toEqual({
    code: 0,
    signal: null,
    stderr: '',
  });
  expect(stdout).toContain('tsnet-proxy: SIGINT; closing');
  expect(stdout).toMatch(/closed \(1 connections, 0 failed, 65536 B to the target, 64 B back\)/);
}, 120_000);
