// The harness's pure parts: statistics, the table, the profile summary and the source-map decoder.
// No timing here; the benchmark itself is a script (bench/e2e.bench.ts).
import { describe, expect, it } from 'vitest';
import { areaOf, summarizeProfile } from '../src/profile.js';
import { decodeVlq, SourceMap } from '../src/sourcemap.js';
import { percentile, summarize } from '../src/stats.js';
import { cell, fmt, ratio, renderTable } from '../src/table.js';

describe('stats', () => {
  it('percentile takes the nearest rank below', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 0.5)).toBe(50);
    expect(percentile(v, 0.99)).toBe(99);
    expect(percentile([], 0.5)).toBeNaN();
  });
  it('summarize gives the median and the spread, ignoring non-finite values', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(summarize([4, 1, Number.NaN, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(summarize([])).toBeUndefined();
  });
});

describe('table', () => {
  it('formats to three significant digits', () => {
    expect(fmt(612.34)).toBe('612');
    expect(fmt(26.24)).toBe('26.2');
    expect(fmt(0.3071)).toBe('0.31');
    expect(fmt(100850)).toBe('100,850');
  });
  it('shows median (min–max) and TS / Go', () => {
    const ts = { median: 20, min: 10, max: 30, n: 3 };
    const go = { median: 400, min: 390, max: 410, n: 3 };
    expect(cell(ts)).toBe('20.0 (10.0–30.0)');
    expect(cell({ median: 5, min: 5, max: 5, n: 1 })).toBe('5.00');
    expect(ratio(ts, go)).toBe('0.050×');
    expect(ratio(go, ts)).toBe('20.0×');
    const t = renderTable([{ figure: 'bulk', unit: 'Mbit/s', cells: { 'ts-ts': ts, 'go-go': go } }]);
    expect(t.split('\n')).toEqual([
      '| figure | unit | TS→TS | Go→Go | TS→Go | Go→TS | TS / Go |',
      '|---|---|---:|---:|---:|---:|---:|',
      '| bulk | Mbit/s | 20.0 (10.0–30.0) | 400 (390–410) | — | — | 0.050× |',
    ]);
  });
});

describe('source maps', () => {
  it('decodes VLQ segments', () => {
    expect(decodeVlq('AAAA')).toEqual([0, 0, 0, 0]);
    expect(decodeVlq('AACA')).toEqual([0, 0, 1, 0]);
    expect(decodeVlq('D')).toEqual([-1]);
    expect(decodeVlq('gB')).toEqual([16]);
  });
  it('maps a generated position to the original file and line', () => {
    // Line 0: col 0 → a.ts line 0; col 10 → b.ts line 4. Line 1: col 2 → b.ts line 5.
    const m = new SourceMap({ sources: ['a.ts', 'b.ts'], mappings: 'AAAA,UCIA;EACA' }, '/x');
    expect(m.lookup(0, 3)).toEqual({ source: '/x/a.ts', line: 0 });
    expect(m.lookup(0, 12)).toEqual({ source: '/x/b.ts', line: 4 });
    expect(m.lookup(1, 2)).toEqual({ source: '/x/b.ts', line: 5 });
    expect(m.lookup(1, 0)).toBeUndefined();
  });
});

describe('profile summary', () => {
  it('puts frames into areas by URL', () => {
    const f = (url: string, functionName = 'f') => ({ url, functionName, lineNumber: 0 });
    expect(areaOf(f('/r/packages/netstack/src/stack.ts'))).toBe('netstack');
    expect(areaOf(f('/r/packages/core/src/crypto/sodium.ts'))).toBe('crypto');
    expect(areaOf(f('node:dgram'))).toBe('node dgram');
    expect(areaOf(f('', '(garbage collector)'))).toBe('GC');
  });
  it('counts self time, skips idle, and gives native frames to their JavaScript caller', () => {
    const summary = summarizeProfile({
      startTime: 0,
      endTime: 400,
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4, 5] },
        { id: 2, callFrame: { functionName: 'doSend', url: 'node:dgram', lineNumber: 686 }, children: [3] },
        { id: 3, callFrame: { functionName: 'send', url: '', lineNumber: -1 } },
        { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
        {
          id: 5,
          callFrame: { functionName: 'tcpInput', url: '/r/packages/netstack/src/stack.ts', lineNumber: 9 },
        },
      ],
      samples: [3, 3, 4, 5, 3],
      timeDeltas: [0, 100, 100, 100, 100],
    });
    // Sample i gets timeDeltas[i + 1]: send 100+100 (+0 for the last), idle 100 skipped, tcpInput 100.
    expect(summary.totalMs).toBeCloseTo(0.3);
    expect(summary.top[0]?.name).toBe('doSend → native send');
    expect(summary.top[0]?.area).toBe('node dgram');
    expect(summary.areas.map((a) => a.area)).toEqual(['node dgram', 'netstack']);
  });
});
