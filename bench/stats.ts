/** Middle value (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Nearest-rank percentile, `p` in [0, 100]: the smallest value with at least p% of the values at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Least-squares slope of y over x; 0 for fewer than two distinct x. */
export function slope(points: readonly { readonly x: number; readonly y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const p of points) {
    numerator += (p.x - meanX) * (p.y - meanY);
    denominator += (p.x - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

/** Rounds to `digits` significant digits, for readable JSON. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** User plus system CPU of this process, in milliseconds, since `since` (a `process.cpuUsage()` result). */
export function cpuMillisSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * Least-squares slope with its standard error (infinite below three points), so that a trend can be told from
 * the scatter around it.
 */
export function slopeWithError(points: readonly { readonly x: number; readonly y: number }[]): {
  readonly slope: number;
  readonly standardError: number;
} {
  const n = points.length;
  const fitted = slope(points);
  if (n < 3) return { slope: fitted, standardError: Number.POSITIVE_INFINITY };
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let residuals = 0;
  let spread = 0;
  for (const p of points) {
    residuals += (p.y - (meanY + fitted * (p.x - meanX))) ** 2;
    spread += (p.x - meanX) ** 2;
  }
  return {
    slope: fitted,
    standardError:
      spread === 0 ? Number.POSITIVE_INFINITY : Math.sqrt(residuals / (n - 2)) / Math.sqrt(spread),
  };
}
