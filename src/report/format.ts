// How numbers read, in the terminal, the reports and the dashboard's page alike: counts with
// a unit prefix, accuracies as percentages, durations. Pure and import-free, so the page
// (src/serve/client) bundles these very functions.

/** "1.2M", "350k", "3.4G" */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) if (Math.abs(n) >= v) return `${Number((n / v).toPrecision(3))}${u}`;
  return String(Number(n.toPrecision(3)));
}

/** An accuracy (or any fraction) as "91.25%". */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

/** "45s", "3m05s", "2h07m"; "--" for a negative or unknown duration. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
