/**
 * A bench node process (the TypeScript runner or the Go client): JSON lines out, JSON commands in,
 * every wait bounded, killed at exit if still running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export type Line = Record<string, unknown>;

export class NodeProc {
  readonly name: string;
  readonly child: ChildProcess;
  /** performance.now() when spawned. */
  readonly spawnedAt: number;
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;
  private readonly lines: Array<{ at: number; line: Line }> = [];
  private consumed = 0;
  private log = '';
  private wake: Array<() => void> = [];

  constructor(name: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string) {
    hook();
    this.name = name;
    this.spawnedAt = performance.now();
    this.child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.child);
    let partial = '';
    this.child.stdout?.on('data', (d: Buffer) => {
      const at = performance.now();
      const parts = (partial + d.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        if (!l.startsWith('{')) {
          this.append(`${l}\n`);
          continue;
        }
        try {
          this.lines.push({ at, line: JSON.parse(l) as Line });
        } catch {
          this.append(`${l}\n`);
        }
      }
      this.notify();
    });
    this.child.stderr?.on('data', (d: Buffer) => this.append(d.toString('utf8')));
    this.child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        live.delete(this.child);
        this.notify();
        resolve(code);
      };
      this.child.once('error', (e) => {
        this.append(`[could not start: ${e.message}]\n`);
        done(127);
      });
      this.child.once('exit', (code, signal) => done(code ?? (signal !== null ? 128 : 1)));
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  private append(s: string): void {
    this.log += s;
    if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 19));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  logs(): string {
    return this.log;
  }

  /** The next unconsumed line satisfying `pred` (lines before it are consumed too), bounded. */
  async next(
    pred: (l: Line) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<{ at: number; line: Line }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.consumed < this.lines.length) {
        const e = this.lines[this.consumed++];
        if (e === undefined) continue;
        if (e.line.type === 'error')
          throw new Error(`${this.name}: ${String(e.line.error)}\n${this.log.slice(-3000)}`);
        if (pred(e.line)) return e;
      }
      if (this.exitCode !== undefined)
        throw new Error(`${this.name} exited (${this.exitCode}) before ${what}\n${this.log.slice(-3000)}`);
      const left = deadline - performance.now();
      if (left <= 0)
        throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.log.slice(-3000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a command and waits for its answer (a line whose type is the command's name). */
  async request(cmd: Line, timeoutMs: number): Promise<Line> {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
    const { line } = await this.next((l) => l.type === cmd.cmd, timeoutMs, `an answer to ${String(cmd.cmd)}`);
    if (typeof line.error === 'string') throw new Error(`${this.name} ${String(cmd.cmd)}: ${line.error}`);
    return line;
  }

  /** VmRSS from /proc, in bytes (the same reading for Go and Node processes). */
  rss(): number {
    try {
      const m = readFileSync(`/proc/${this.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
      return m === null ? Number.NaN : Number(m[1]) * 1024;
    } catch {
      return Number.NaN;
    }
  }

  /** Closes stdin, then SIGTERM, then SIGKILL; resolves when it has exited (bounded). */
  async stop(graceMs = 4000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.stdin?.end();
    const t1 = setTimeout(() => this.child.kill('SIGTERM'), graceMs / 2);
    const t2 = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs + 2000))]);
    clearTimeout(t1);
    clearTimeout(t2);
  }
}
