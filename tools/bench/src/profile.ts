/**
 * Summarises a V8 `.cpuprofile` (what `node --cpu-prof` and the inspector's Profiler.stop write):
 * self time per function, and per area of the code base (crypto, WireGuard, netstack, magicsock…).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SourceMap } from './sourcemap.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  area: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  top: FunctionTime[];
  areas: Array<{ area: string; ms: number; pct: number }>;
}

/** The area of the code a frame belongs to, by its URL (or V8's pseudo-frames). */
export function areaOf(frame: CallFrame): string {
  const u = frame.url;
  const f = frame.functionName;
  if (u === '') {
    if (f === '(garbage collector)') return 'GC';
    if (f === '(idle)') return 'idle';
    if (f === '(program)') return 'V8/native (program)';
    if (f === '(root)') return 'other';
    return 'native (no URL)';
  }
  if (/sodium-native|@noble|packages\/core\/src\/crypto|packages\/wireguard\/src\/crypto/.test(u))
    return 'crypto';
  if (/packages\/core\//.test(u)) return 'core (keys, bytes)';
  if (/packages\/wireguard\//.test(u)) return 'wireguard';
  if (/packages\/netstack\//.test(u)) return 'netstack';
  if (/packages\/tsnet\/src\/magicsock|packages\/tsnet\/src\/disco/.test(u)) return 'magicsock';
  if (/packages\/tsnet\/src\/filter/.test(u)) return 'filter';
  if (/packages\/tsnet\//.test(u)) return 'tsnet engine';
  if (/packages\/derp\//.test(u)) return 'derp';
  if (/packages\/control\//.test(u)) return 'control';
  if (/tools\/bench\//.test(u)) return 'bench harness';
  if (/^node:internal\/(dgram|udp)|^node:dgram/.test(u)) return 'node dgram';
  if (/^node:internal\/(streams|stream_base)|node:stream/.test(u)) return 'node streams';
  if (/^node:internal\/(crypto)|node:crypto/.test(u)) return 'crypto';
  if (/^node:internal\/(timers|process\/task_queues)|node:timers/.test(u)) return 'node timers/ticks';
  if (/^node:/.test(u)) return 'node other';
  if (/node_modules/.test(u)) return 'dependencies';
  return 'other';
}

function shortUrl(u: string): string {
  const m = u.match(/(packages|tools)\/[^?]*/);
  if (m !== null) return m[0];
  return u.replace(/^file:\/\/.*node_modules\//, '');
}

const PSEUDO = new Set(['(garbage collector)', '(idle)', '(program)', '(root)']);

/** Maps frames of a bundle back to original files through its linked source map (cached). */
function makeResolver(): (f: CallFrame) => CallFrame {
  const maps = new Map<string, SourceMap | null>();
  return (f) => {
    if (!f.url.startsWith('file://')) return f;
    let map = maps.get(f.url);
    if (map === undefined) {
      const file = `${fileURLToPath(f.url)}.map`;
      map = existsSync(file) ? SourceMap.load(file) : null;
      maps.set(f.url, map);
    }
    if (map === null) return f;
    const o = map.lookup(f.lineNumber, f.columnNumber ?? 0);
    return o === undefined ? f : { ...f, url: o.source, lineNumber: o.line };
  };
}

/**
 * Self time per node from the samples, then grouped by function and by area. A native frame (no
 * URL: a C++ binding such as a UDP send or a sodium-native call) counts towards the area of the
 * nearest JavaScript caller, and is named with it.
 */
export function summarizeProfile(p: CpuProfile, topN = 15): ProfileSummary {
  const resolveFrame = makeResolver();
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, { ...n, callFrame: resolveFrame(n.callFrame) });
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; attribute the gap after a sample to that sample.
  // A gap far longer than the sampling interval means the process (or the sampler) was not
  // running — on a loaded machine, descheduled — so each gap is capped at 5× the median gap:
  // the summary is about where CPU time goes, not wall time.
  const sorted = deltas.filter((d) => d > 0).sort((a, b) => a - b);
  const cap = 5 * (sorted[Math.floor(sorted.length / 2)] ?? Number.POSITIVE_INFINITY);
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] ?? 0;
    const dt = Math.min(cap, deltas[i + 1] ?? 0);
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const byFn = new Map<string, FunctionTime>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const f = n.callFrame;
    let area = areaOf(f);
    if (area === 'idle') continue;
    let name = f.functionName === '' ? '(anonymous)' : f.functionName;
    let where = f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`;
    if (f.url === '' && !PSEUDO.has(f.functionName)) {
      // Native: find the JavaScript caller.
      let up = parent.get(id);
      while (up !== undefined && (byId.get(up)?.callFrame.url ?? '') === '') up = parent.get(up);
      const caller = up === undefined ? undefined : byId.get(up)?.callFrame;
      if (caller !== undefined) {
        area = areaOf(caller);
        // V8 names frames inside native addons by the nearest exported symbol it finds, which
        // for sodium-native is unrelated (e.g. "extension_pbkdf2_sha512_async"): name the addon.
        const native = /sodium/.test(caller.url) ? 'sodium-native' : `native ${name}`;
        name = `${caller.functionName || '(anonymous)'} → ${native}`;
        where = `${shortUrl(caller.url)}:${caller.lineNumber + 1}`;
      }
    }
    total += us;
    const key = `${name}@${where}`;
    const cur = byFn.get(key) ?? { name, where, area, ms: 0, pct: 0 };
    cur.ms += us / 1000;
    byFn.set(key, cur);
    byArea.set(area, (byArea.get(area) ?? 0) + us / 1000);
  }
  const totalMs = total / 1000;
  const top = [...byFn.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, topN)
    .map((x) => ({ ...x, pct: totalMs > 0 ? (100 * x.ms) / totalMs : 0 }));
  const areas = [...byArea.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, ms]) => ({ area, ms, pct: totalMs > 0 ? (100 * ms) / totalMs : 0 }));
  return { totalMs, top, areas };
}

export function summarizeProfileFile(file: string, topN = 15): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, topN);
}

export function renderProfile(title: string, s: ProfileSummary): string {
  const lines = [
    `${title}: ${(s.totalMs / 1000).toFixed(2)} s of CPU (idle excluded)`,
    '',
    '| area | self ms | share |',
    '|---|---:|---:|',
    ...s.areas.map((a) => `| ${a.area} | ${a.ms.toFixed(0)} | ${a.pct.toFixed(1)}% |`),
    '',
    '| function | where | area | self ms | share |',
    '|---|---|---|---:|---:|',
    ...s.top.map(
      (f) =>
        `| ${f.name} | ${f.where === '' ? '—' : `\`${f.where}\``} | ${f.area} | ${f.ms.toFixed(0)} | ${f.pct.toFixed(1)}% |`,
    ),
  ];
  return lines.join('\n');
}
