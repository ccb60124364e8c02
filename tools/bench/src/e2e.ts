/**
 * The end-to-end bench: our TypeScript node against Go tsnet (v1.102.3), side by side, in one run.
 * headscale and derper on loopback (inside a network namespace of our own when we can make one);
 * every node in its own process: the TypeScript runner (`tsnode.ts`), tools/interop's gopeer (Go
 * servers) and tools/bench/goclient (Go clients). See ../README.md for what each figure means.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  binaryPath,
  type Derper,
  type Headscale,
  interopAvailable,
  startDerper,
  startHeadscale,
} from '@tsnet/interop';
import { BUNDLE, bundleRunner } from './bundle.js';
import { NodeProc } from './child.js';
import { ensureGoclient } from './goclient.js';
import { canUseNetns, clearUdpLoss, NETNS_ENV, nftAvailable, reexecInNetns, setUdpLoss } from './netns.js';
import { renderProfile, summarizeProfileFile } from './profile.js';
import { chachaSeal, dgramPps, loopbackTcp } from './raw.js';
import { type Summary, summarize } from './stats.js';
import { COLUMNS, type Column, type Row, renderTable } from './table.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const TSNODE = join(here, 'tsnode.ts');
const ECHO = 7;
const SINK = 9;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    multi: { type: 'string' },
    'no-netns': { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    only: { type: 'string' },
    json: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false },
  },
  strict: false,
});

const QUICK = flags.quick === true;
const REPS = Number(flags.reps ?? (QUICK ? 1 : 3));
const SECONDS = Number(flags.seconds ?? (QUICK ? 1 : 3));
const MULTI = Number(flags.multi ?? (QUICK ? 5 : 20));
const RR_COUNT = QUICK ? 200 : 500;
const LOSS_PCT = 1;
const ONLY = new Set(String(flags.only ?? 'raw,direct,loss,derp,rr,ttfb,memory,profile').split(','));
const VERBOSE = flags.verbose === true;
const USE_TSX = flags.tsx === true;

const t0 = performance.now();
function say(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
}

type Samples = Partial<Record<Column, number[]>>;
const results = new Map<string, Samples>();
const loads: number[] = [];

function record(figure: string, col: Column, v: number): void {
  const s = results.get(figure) ?? {};
  const list = s[col] ?? [];
  list.push(v);
  s[col] = list;
  results.set(figure, s);
}

function sampleLoad(): void {
  loads.push(loadavg()[0] ?? 0);
}

/** A client able to run commands against a server address: TS runner or Go client. */
interface Client {
  proc: NodeProc;
}

interface Phase {
  tsServer: NodeProc;
  tsClient: NodeProc;
  goServer: NodeProc;
  goClient: NodeProc;
  tsServerIp: string;
  goServerIp: string;
}

interface Env {
  hs: Headscale;
  derper: Derper;
  authKey: string;
  ephemeralKey: string;
  goclientBin: string;
  gopeerBin: string;
  workDir: string;
}

/** Node flags and script for the TS runner: the bundle, or the sources through tsx (--tsx). */
function tsArgs(): string[] {
  return USE_TSX ? ['--conditions=@tsnet/source', '--import', 'tsx', TSNODE] : [BUNDLE];
}

function startTs(env: Env, name: string, extra: string[], ephemeral = false): NodeProc {
  const args = [
    ...tsArgs(),
    '--control-url',
    env.hs.url,
    '--authkey',
    ephemeral ? env.ephemeralKey : env.authKey,
    '--hostname',
    name,
    ...(ephemeral ? ['--ephemeral'] : []),
    ...(VERBOSE ? ['--verbose'] : []),
    ...extra,
  ];
  return new NodeProc(name, process.execPath, args, { ...process.env }, repoRoot);
}

function startGo(
  env: Env,
  name: string,
  extra: string[],
  opts: { ephemeral?: boolean; derpOnly?: boolean; gopeer?: boolean } = {},
) {
  const dir = mkdtempSync(join(env.workDir, `${name}-`));
  const args = [
    '-control-url',
    env.hs.url,
    '-authkey',
    opts.ephemeral === true ? env.ephemeralKey : env.authKey,
    '-dir',
    dir,
    '-hostname',
    name,
    ...(opts.ephemeral === true ? ['-ephemeral'] : []),
    // gopeer logs tsnet's backend by default; goclient and the TS runner log nothing.
    `-verbose=${VERBOSE}`,
    ...extra,
  ];
  return new NodeProc(name, opts.gopeer === true ? env.gopeerBin : env.goclientBin, args, {
    ...process.env,
    ...env.derper.clientEnv,
    TS_DISABLE_PORTMAPPER: '1',
    TS_NO_LOGS_NO_SUPPORT: 'true',
    TS_DEBUG_OMIT_LOCAL_ADDRS: '1',
    ...(opts.derpOnly === true ? { TS_DEBUG_ALWAYS_USE_DERP: '1' } : {}),
  });
}

async function startPhase(env: Env, derpOnly: boolean): Promise<Phase> {
  const tag = derpOnly ? 'derp' : 'direct';
  const ts = derpOnly ? ['--derp-only'] : [];
  const tsServer = startTs(env, `ts-server-${tag}`, [...ts, '--echo', String(ECHO), '--sink', String(SINK)]);
  const tsClient = startTs(env, `ts-client-${tag}`, ts);
  const goClient = startGo(env, `go-client-${tag}`, [], { derpOnly });
  // The Go server is tools/interop's gopeer, unchanged, run with its own flags.
  const goServer = startGo(
    env,
    `go-server-${tag}`,
    ['-echo', String(ECHO), '-sink', String(SINK), '-up-timeout', '60s'],
    { derpOnly, gopeer: true },
  );
  const [goUp, tsUp] = await Promise.all([
    goServer.next((l) => l.type === 'up', 90_000, 'up'),
    tsServer.next((l) => l.type === 'up', 90_000, 'up'),
    tsClient.next((l) => l.type === 'up', 90_000, 'up'),
    goClient.next((l) => l.type === 'up', 90_000, 'up'),
  ]);
  const ips = (tsUp.line.tailscaleIPs as string[] | undefined) ?? [];
  say(`${tag}: 4 nodes up (TS crypto backend: ${String(tsUp.line.crypto)})`);
  return {
    tsServer,
    tsClient,
    goClient,
    goServer,
    tsServerIp: ips.find((a) => a.includes('.')) ?? '',
    goServerIp: ((goUp.line.tailscaleIPs as string[] | undefined) ?? []).find((a) => a.includes('.')) ?? '',
  };
}

async function stopPhase(p: Phase): Promise<void> {
  await Promise.all([p.tsServer.stop(), p.tsClient.stop(), p.goClient.stop(), p.goServer.stop()]);
}

function pairs(p: Phase): Array<{ col: Column; client: Client; ip: string }> {
  return [
    { col: 'ts-ts', client: { proc: p.tsClient }, ip: p.tsServerIp },
    { col: 'go-go', client: { proc: p.goClient }, ip: p.goServerIp },
    { col: 'ts-go', client: { proc: p.tsClient }, ip: p.goServerIp },
    { col: 'go-ts', client: { proc: p.goClient }, ip: p.tsServerIp },
  ];
}

async function waitDirectAll(p: Phase): Promise<void> {
  for (const { col, client, ip } of pairs(p)) {
    const r = await client.proc.request(
      { cmd: 'direct', ip, addr: `${ip}:${ECHO}`, timeoutMs: 30_000 },
      40_000,
    );
    say(`direct: ${col} via ${String(r.direct)}`);
  }
}

async function bulkAll(p: Phase, figure: string): Promise<void> {
  for (let rep = 0; rep < REPS; rep++) {
    for (const { col, client, ip } of pairs(p)) {
      sampleLoad();
      try {
        const r = await client.proc.request(
          { cmd: 'bulk', addr: `${ip}:${SINK}`, seconds: SECONDS },
          SECONDS * 1000 + 60_000,
        );
        const mbits = (Number(r.bytes) * 8) / Number(r.secs) / 1e6;
        record(figure, col, mbits);
        say(`${figure} ${col}: ${mbits.toFixed(1)} Mbit/s (${(Number(r.bytes) / 1e6).toFixed(1)} MB)`);
      } catch (e) {
        say(`${figure} ${col}: failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
}

async function rrAll(p: Phase): Promise<void> {
  for (let rep = 0; rep < REPS; rep++) {
    for (const { col, client, ip } of pairs(p)) {
      sampleLoad();
      try {
        const r = await client.proc.request(
          { cmd: 'rr', addr: `${ip}:${ECHO}`, count: RR_COUNT, size: 1024, warmup: 50 },
          120_000,
        );
        record('1 KiB round trip p50', col, Number(r.p50));
        record('1 KiB round trip p99', col, Number(r.p99));
        say(`rr ${col}: p50 ${Number(r.p50).toFixed(3)} ms, p99 ${Number(r.p99).toFixed(3)} ms`);
      } catch (e) {
        say(`rr ${col}: failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
}

async function ttfbAll(env: Env, p: Phase): Promise<void> {
  const targets: Array<{ col: Column; lang: 'ts' | 'go'; ip: string }> = [
    { col: 'ts-ts', lang: 'ts', ip: p.tsServerIp },
    { col: 'go-go', lang: 'go', ip: p.goServerIp },
    { col: 'ts-go', lang: 'ts', ip: p.goServerIp },
    { col: 'go-ts', lang: 'go', ip: p.tsServerIp },
  ];
  let i = 0;
  for (let rep = 0; rep < REPS; rep++) {
    for (const { col, lang, ip } of targets) {
      sampleLoad();
      const name = `ttfb-${lang}-${i++}`;
      const proc =
        lang === 'ts'
          ? startTs(env, name, ['--ttfb', `${ip}:${ECHO}`], true)
          : startGo(env, name, ['-ttfb', `${ip}:${ECHO}`], { ephemeral: true });
      try {
        const { at, line } = await proc.next((l) => l.type === 'ttfb', 60_000, 'a first byte');
        const total = at - proc.spawnedAt;
        record('time to first byte, process start', col, total);
        record('time to first byte, new node', col, Number(line.sinceNodeMs));
        record('time to up, new node', col, Number(line.upMs));
        say(
          `ttfb ${col}: ${total.toFixed(0)} ms from spawn, ${Number(line.sinceNodeMs).toFixed(0)} ms from new node (up ${Number(line.upMs).toFixed(0)} ms)`,
        );
      } catch (e) {
        say(`ttfb ${col}: failed: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        await proc.stop(3000);
      }
    }
  }
}

let profiledSecs = 0;

async function profileTsTs(p: Phase, outDir: string): Promise<string[]> {
  const files = [join(outDir, 'ts-client.cpuprofile'), join(outDir, 'ts-server.cpuprofile')];
  await Promise.all([
    p.tsClient.request({ cmd: 'profile-start' }, 10_000),
    p.tsServer.request({ cmd: 'profile-start' }, 10_000),
  ]);
  const r = await p.tsClient.request(
    { cmd: 'bulk', addr: `${p.tsServerIp}:${SINK}`, seconds: SECONDS },
    SECONDS * 1000 + 60_000,
  );
  await Promise.all([
    p.tsClient.request({ cmd: 'profile-stop', file: files[0] }, 20_000),
    p.tsServer.request({ cmd: 'profile-stop', file: files[1] }, 20_000),
  ]);
  profiledSecs = Number(r.secs);
  say(
    `profiled TS→TS bulk: ${((Number(r.bytes) * 8) / Number(r.secs) / 1e6).toFixed(1)} Mbit/s while profiling`,
  );
  return files;
}

async function memory(env: Env): Promise<void> {
  for (const lang of ['ts', 'go'] as const) {
    sampleLoad();
    const col: Column = lang === 'ts' ? 'ts-ts' : 'go-go';
    const proc =
      lang === 'ts'
        ? startTs(env, `multi-${lang}`, ['--multi', String(MULTI)], true)
        : startGo(env, `multi-${lang}`, ['-multi', String(MULTI)], { ephemeral: true });
    try {
      const { line } = await proc.next((l) => l.type === 'multi', 180_000, `${MULTI} nodes up`);
      const after = proc.rss();
      const before = Number(line.rssBefore);
      record(`RSS per node, ${MULTI} nodes in one process`, col, (after - before) / MULTI / 2 ** 20);
      record('RSS of the process before any node', col, before / 2 ** 20);
      say(
        `memory ${lang}: ${MULTI} nodes up in ${Number(line.upSecs).toFixed(1)} s; RSS ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB`,
      );
    } catch (e) {
      say(`memory ${lang}: failed: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      await proc.stop(8000);
    }
  }
}

function machine(): Record<string, string> {
  const sh = (c: string) => {
    try {
      return execSync(c, { encoding: 'utf8', timeout: 10_000 }).trim();
    } catch {
      return '?';
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: String(cpus().length),
    cpu: cpus()[0]?.model ?? '?',
    node: process.version,
    go: sh('go env GOVERSION'),
    commit: sh(`git -C ${repoRoot} rev-parse --short HEAD`),
  };
}

export async function main(): Promise<number> {
  if (process.env[NETNS_ENV] === undefined && flags['no-netns'] !== true && canUseNetns()) {
    return reexecInNetns();
  }
  const m = machine();
  const loadBefore = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const inNs = process.env[NETNS_ENV];
  say(
    `tools/bench e2e: ${m.nproc} × ${m.cpu}, Node ${m.node}, ${m.go}, commit ${m.commit}; ` +
      `${REPS} rep(s) of ${SECONDS} s; ${inNs !== undefined ? `namespace ${inNs}` : 'root namespace'}; load ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
  const missing = (['headscale', 'derper', 'gopeer'] as const)
    .map((w) => interopAvailable(w))
    .filter((a) => !a.ok)
    .map((a) => (a.ok ? '' : a.missing));
  if (missing.length > 0) {
    say(`cannot run: ${missing.join('; ')} (run node tools/interop/src/install.mjs)`);
    return 0;
  }
  const goclientBin = ensureGoclient(say);
  if (!USE_TSX) {
    const b0 = performance.now();
    await bundleRunner();
    say(`bundled the TS runner (${((performance.now() - b0) / 1000).toFixed(1)} s): ${BUNDLE}`);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'tsnet-bench-'));
  const outDir = join(repoRoot, 'tools', 'bench', '.out');
  mkdirSync(outDir, { recursive: true });
  const notes: string[] = [];
  let derper: Derper | undefined;
  let hs: Headscale | undefined;
  let phase: Phase | undefined;
  let profileFiles: string[] = [];
  const raw: Row[] = [];
  try {
    if (ONLY.has('raw')) {
      sampleLoad();
      const c = chachaSeal(QUICK ? 0.5 : 1);
      const d = await dgramPps(QUICK ? 0.5 : 1);
      const t = await loopbackTcp(QUICK ? 0.5 : 1);
      const one = (v: number): Summary => ({ median: v, min: v, max: v, n: 1 });
      raw.push(
        {
          figure: 'raw: node:crypto ChaCha20-Poly1305 seal, 1280 B',
          unit: 'Mbit/s',
          cells: { 'ts-ts': one(c.mbps * 8) },
        },
        {
          figure: 'raw: node:dgram 1280 B datagrams received',
          unit: 'pkt/s',
          cells: { 'ts-ts': one(d.pps) },
        },
        {
          figure: 'raw: node:dgram 1280 B as throughput',
          unit: 'Mbit/s',
          cells: { 'ts-ts': one((d.pps * 1280 * 8) / 1e6) },
        },
        { figure: 'raw: loopback TCP, net.Socket', unit: 'Mbit/s', cells: { 'ts-ts': one(t.mbps * 8) } },
      );
      say(
        `raw: chacha seal ${(c.mbps * 8).toFixed(0)} Mbit/s (${c.opsPerSec.toFixed(0)}/s); dgram ${d.pps.toFixed(0)} pkt/s received (${d.sentPps.toFixed(0)} sent); TCP ${(t.mbps * 8).toFixed(0)} Mbit/s`,
      );
    }
    derper = await startDerper();
    hs = await startHeadscale({ derpMap: derper.derpMap(), logLevel: 'warn' });
    const user = await hs.createUser('bench');
    const authKey = await hs.createPreAuthKey({ user: user.id, reusable: true, expiration: '2h' });
    const ephemeralKey = await hs.createPreAuthKey({
      user: user.id,
      reusable: true,
      ephemeral: true,
      expiration: '2h',
    });
    const gopeerBin = binaryPath('gopeer');
    if (gopeerBin === null) throw new Error('no gopeer build (run node tools/interop/src/install.mjs)');
    const env: Env = { hs, derper, authKey, ephemeralKey, goclientBin, gopeerBin, workDir };
    say(`headscale ${hs.url}, derper up`);

    const wantDirect = ['direct', 'loss', 'rr', 'ttfb', 'profile'].some((x) => ONLY.has(x));
    if (wantDirect || ONLY.has('memory')) {
      phase = await startPhase(env, false);
      await new Promise((r) => setTimeout(r, 2000));
      record('RSS of one idle node', 'ts-ts', phase.tsServer.rss() / 2 ** 20);
      record('RSS of one idle node', 'go-go', phase.goServer.rss() / 2 ** 20);
      await waitDirectAll(phase);
      if (ONLY.has('direct')) await bulkAll(phase, 'bulk TCP, direct UDP');
      if (ONLY.has('profile') && flags['no-profile'] !== true)
        profileFiles = await profileTsTs(phase, outDir);
      if (ONLY.has('rr')) await rrAll(phase);
      if (ONLY.has('loss')) {
        if (inNs !== undefined && nftAvailable()) {
          setUdpLoss(LOSS_PCT);
          try {
            await bulkAll(phase, `bulk TCP, direct UDP, ${LOSS_PCT}% loss`);
          } finally {
            clearUdpLoss();
          }
        } else {
          notes.push('loss: skipped (needs our own network namespace and nft)');
        }
      }
      if (ONLY.has('ttfb')) await ttfbAll(env, phase);
      record('RSS after the runs (server)', 'ts-ts', phase.tsServer.rss() / 2 ** 20);
      record('RSS after the runs (server)', 'go-go', phase.goServer.rss() / 2 ** 20);
      await stopPhase(phase);
      phase = undefined;
    }
    if (ONLY.has('derp')) {
      phase = await startPhase(env, true);
      await bulkAll(phase, 'bulk TCP, DERP only');
      await stopPhase(phase);
      phase = undefined;
    }
    if (ONLY.has('memory')) await memory(env);
  } finally {
    if (phase !== undefined) await stopPhase(phase).catch(() => {});
    await hs?.close().catch(() => {});
    await derper?.close().catch(() => {});
    rmSync(workDir, { recursive: true, force: true });
  }

  const order = [
    'bulk TCP, direct UDP',
    `bulk TCP, direct UDP, ${LOSS_PCT}% loss`,
    'bulk TCP, DERP only',
    '1 KiB round trip p50',
    '1 KiB round trip p99',
    'time to first byte, process start',
    'time to first byte, new node',
    'time to up, new node',
    'RSS of one idle node',
    'RSS of the process before any node',
    `RSS per node, ${MULTI} nodes in one process`,
    'RSS after the runs (server)',
  ];
  const units: Record<string, string> = {};
  for (const f of order) {
    units[f] = f.startsWith('bulk') ? 'Mbit/s' : f.startsWith('RSS') ? 'MiB' : 'ms';
  }
  const rows: Row[] = [];
  for (const f of order) {
    const s = results.get(f);
    if (s === undefined) continue;
    const cells: Row['cells'] = {};
    for (const c of COLUMNS) {
      const v = s[c];
      const sum = v === undefined ? undefined : summarize(v);
      if (sum !== undefined) cells[c] = sum;
    }
    rows.push({ figure: f, unit: units[f] ?? '', cells });
  }
  rows.push(...raw);
  const load = summarize(loads);
  const header = [
    `date ${m.date}; ${m.nproc} × ${m.cpu}; Node ${m.node}; ${m.go}; commit ${m.commit}`,
    `${REPS} rep(s), bulk ${SECONDS} s each, rr ${RR_COUNT} round trips (+50 warm-up), ${MULTI} nodes for RSS per node; ` +
      `load average before the run (1/5/15 min) ${loadBefore}; 1-min load average during the run: median ${load?.median.toFixed(2) ?? '?'} (${load?.min.toFixed(2) ?? '?'}–${load?.max.toFixed(2) ?? '?'})`,
    `cells: median (min–max) over the reps; columns client→server; TS / Go = TS→TS ÷ Go→Go`,
    ...notes,
  ];
  process.stdout.write(`\n${header.join('\n')}\n\n${renderTable(rows)}\n`);
  for (const [i, f] of profileFiles.entries()) {
    try {
      process.stdout.write(
        `\n${renderProfile(`CPU profile, TS→TS bulk of ${profiledSecs.toFixed(1)} s, ${i === 0 ? 'sender (client)' : 'receiver (server)'}`, summarizeProfileFile(f, 15))}\n`,
      );
    } catch (e) {
      say(`profile ${f}: ${(e as Error).message}`);
    }
  }
  const json = typeof flags.json === 'string' ? flags.json : join(outDir, 'e2e-last.json');
  writeFileSync(
    json,
    JSON.stringify(
      {
        machine: m,
        reps: REPS,
        seconds: SECONDS,
        multi: MULTI,
        loads,
        results: Object.fromEntries(results),
        profileFiles,
      },
      null,
      2,
    ),
  );
  say(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s; raw figures in ${json}`);
  return 0;
}
