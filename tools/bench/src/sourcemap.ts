/**
 * Just enough of the source map v3 format to map a generated (line, column) back to its original
 * file and line: the profile summary uses it for frames in the bundled runner.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VAL = new Map<string, number>([...B64].map((c, i) => [c, i]));

/** Decodes one base64 VLQ segment into its numbers. */
export function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of seg) {
    const d = VAL.get(ch);
    if (d === undefined) throw new Error(`bad VLQ character ${JSON.stringify(ch)}`);
    value += (d & 31) << shift;
    if ((d & 32) !== 0) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

export interface Original {
  source: string;
  /** 0-based. */
  line: number;
}

export class SourceMap {
  /** Per generated line: [generated column, source index, original line], ascending by column. */
  readonly #lines: Array<Array<[number, number, number]>> = [];
  readonly #sources: string[];

  constructor(json: { sources: string[]; mappings: string; sourceRoot?: string }, baseDir: string) {
    this.#sources = json.sources.map((s) => resolve(baseDir, json.sourceRoot ?? '', s));
    let src = 0;
    let line = 0;
    for (const l of json.mappings.split(';')) {
      const segs: Array<[number, number, number]> = [];
      let col = 0;
      if (l !== '') {
        for (const s of l.split(',')) {
          const v = decodeVlq(s);
          col += v[0] ?? 0;
          if (v.length >= 4) {
            src += v[1] ?? 0;
            line += v[2] ?? 0;
            segs.push([col, src, line]);
          }
        }
      }
      this.#lines.push(segs);
    }
  }

  static load(file: string): SourceMap {
    return new SourceMap(JSON.parse(readFileSync(file, 'utf8')), dirname(file));
  }

  /** The original position of a 0-based generated line and column (the mapping at or before it). */
  lookup(line: number, column: number): Original | undefined {
    const segs = this.#lines[line];
    if (segs === undefined || segs.length === 0) return undefined;
    let lo = 0;
    let hi = segs.length - 1;
    if ((segs[0]?.[0] ?? 0) > column) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((segs[mid]?.[0] ?? 0) <= column) lo = mid;
      else hi = mid - 1;
    }
    const s = segs[lo];
    if (s === undefined) return undefined;
    const source = this.#sources[s[1]];
    return source === undefined ? undefined : { source, line: s[2] };
  }
}
