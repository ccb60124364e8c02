/**
 * The one table the end-to-end bench prints: a row per figure, a column per pairing (TS↔TS, Go↔Go,
 * TS→Go, Go→TS, client → server), and the ratio TS / Go of the first two. Markdown, so a run pastes
 * straight into docs/benchmarks.md.
 */
import type { Summary } from './stats.js';

export const COLUMNS = ['ts-ts', 'go-go', 'ts-go', 'go-ts'] as const;
export type Column = (typeof COLUMNS)[number];

export const COLUMN_TITLES: Record<Column, string> = {
  'ts-ts': 'TS→TS',
  'go-go': 'Go→Go',
  'ts-go': 'TS→Go',
  'go-ts': 'Go→TS',
};

export interface Row {
  figure: string;
  unit: string;
  cells: Partial<Record<Column, Summary>>;
  /** Text for a cell with no figure (e.g. "skipped: …"); default "—". */
  missing?: string;
}

/** Three significant digits, no exponent, thousands separated from 10,000 up. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 10_000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

/** `median (min–max)`, or just the median for a single run or no spread. */
export function cell(s: Summary | undefined, missing = '—'): string {
  if (s === undefined) return missing;
  if (s.n <= 1 || fmt(s.min) === fmt(s.max)) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** TS / Go on the medians, e.g. `0.42×`. */
export function ratio(ts: Summary | undefined, go: Summary | undefined): string {
  if (ts === undefined || go === undefined || go.median === 0) return '—';
  const r = ts.median / go.median;
  return `${r >= 10 ? r.toFixed(1) : r >= 1 ? r.toFixed(2) : r.toPrecision(2)}×`;
}

export function renderTable(rows: readonly Row[]): string {
  const head = ['figure', 'unit', ...COLUMNS.map((c) => COLUMN_TITLES[c]), 'TS / Go'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const cells = COLUMNS.map((c) => cell(r.cells[c], r.missing));
    lines.push(`| ${[r.figure, r.unit, ...cells, ratio(r.cells['ts-ts'], r.cells['go-go'])].join(' | ')} |`);
  }
  return lines.join('\n');
}
