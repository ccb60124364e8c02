// Process plumbing shared by every fixture: spawn with captured logs, bounded waits, free ports,
// and a last-resort cleanup at exit so a crashed test leaves no process or namespace behind.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const MAX_LOG = 4 * 1024 * 1024;

/** Everything still running or still existing that this process made; cleaned at exit. */
const live = new Set<Proc>();
const liveNamespaces = new Set<string>();
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) p.killNow();
    for (const c of liveChildren) c.kill('SIGKILL');
    for (const ns of liveNamespaces)
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
  });
}

/** Records a child process started elsewhere so that it is killed at exit if still running. */
export function trackChild(c: ChildProcess): void {
  installExitHook();
  liveChildren.add(c);
  c.once('exit', () => liveChildren.delete(c));
}

/** Records a network namespace so that it is deleted at exit even if its fixture was never closed. */
export function trackNamespace(ns: string): void {
  installExitHook();
  liveNamespaces.add(ns);
}

export function untrackNamespace(ns: string): void {
  liveNamespaces.delete(ns);
}

export interface ProcOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each complete line of stdout (stdout still goes to the log too). */
  onStdoutLine?: (line: string) => void;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A long-running child process with its stdout and stderr captured. It stays in our process group, so
 * a Ctrl-C of the test run reaches it too; a normal exit of the test process kills it (exit hook).
 */
export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | null = null;
  private log = '';
  private listeners = new Set<() => void>();

  constructor(name: string, cmd: string, args: readonly string[], opts: ProcOptions = {}) {
    installExitHook();
    this.name = name;
    this.child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this);
    const onData = (d: Buffer) => this.append(d.toString('utf8'));
    let partial = '';
    const onLine = opts.onStdoutLine;
    this.child.stdout?.on('data', (d: Buffer) => {
      if (onLine !== undefined) {
        const lines = (partial + d.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) onLine(l);
      }
      onData(d);
    });
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.append(`[${name}: could not start: ${err.message}]\n`);
        this.exitInfo = { code: 127, signal: null };
        live.delete(this);
        this.notify();
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.append(`[${name} exited: ${signal ?? code}]\n`);
        live.delete(this);
        this.notify();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private append(s: string): void {
    this.log += s;
    if (this.log.length > MAX_LOG) this.log = this.log.slice(this.log.length - MAX_LOG / 2);
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  logs(): string {
    return this.log;
  }

  /** Resolves with the first match of `re` in the log; rejects on timeout or if the process exits first. */
  waitForLog(re: RegExp, timeoutMs: number, what = `${re}`): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.log.match(re);
        if (m !== null) {
          done();
          resolve(m);
        } else if (this.exitInfo !== null) {
          done();
          reject(
            new Error(`${this.name} exited (${this.exitInfo.signal ?? this.exitInfo.code}) before ${what}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends a signal to the process (none of the peers starts children of its own). */
  signal(sig: NodeJS.Signals): void {
    if (this.child.pid === undefined || this.exitInfo !== null) return;
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  killNow(): void {
    this.signal('SIGKILL');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exitInfo !== null) return;
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await Promise.race([this.exited, sleep(graceMs + 3000)]);
    clearTimeout(t);
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  timeoutMs?: number;
  input?: Uint8Array | string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command to completion (bounded: killed after `timeoutMs`, code 124 then). Never rejects. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const finish = (code: number, extra = '') => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extra,
        code,
      });
    };
    child.once('error', (e) => finish(127, `${cmd}: ${e.message}\n`));
    child.once('close', (code, signal) => {
      if (timedOut) finish(124, `${cmd}: timed out after ${timeoutMs} ms\n`);
      else finish(code ?? (signal !== null ? 128 : 1));
    });
  });
}

/** Like `run`, but rejects with the command's output unless it exits 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`.trimEnd());
  }
  return r.stdout;
}

/** A TCP port free on `host` right now (bound and released). */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function udpBindable(type: 'udp4' | 'udp6', host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket({ type, ipv6Only: type === 'udp6' });
    s.once('error', () => {
      s.close();
      resolve(0);
    });
    s.bind(port, host, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * A UDP port free right now. With `wildcard`, the port is free on 0.0.0.0 and [::] both (for programs
 * such as wireguard-go that bind every address); otherwise on 127.0.0.1.
 */
export async function freeUdpPort(wildcard = false): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await udpBindable('udp4', wildcard ? '0.0.0.0' : '127.0.0.1', 0);
    if (p === 0) continue;
    if (!wildcard || (await udpBindable('udp6', '::', p)) === p) return p;
  }
  throw new Error('no free UDP port found');
}

/** Polls `fn` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/** A short random lowercase hex id. */
export function randomId(bytes = 4): string {
  let s = '';
  for (let i = 0; i < bytes; i++) {
    s += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  }
  return s;
}
