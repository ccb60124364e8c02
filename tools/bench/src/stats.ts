/** Small statistics for repeated measurements: percentiles, medians and spreads. */

/** The p-quantile (0..1) of an ascending array, nearest rank below (as goclient computes it). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.floor(p * (sorted.length - 1));
  return sorted[Math.min(sorted.length - 1, Math.max(0, i))] ?? Number.NaN;
}

/** A figure over repeated runs: its median, and the smallest and largest run. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
  return { median, min: v[0] ?? 0, max: v[v.length - 1] ?? 0, n: v.length };
}
