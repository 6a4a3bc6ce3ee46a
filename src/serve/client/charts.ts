// The page's charts are uPlot's (the global its script from /vendor/uplot/ defines; typed by
// its own uPlot.d.ts, see tsconfig.json here).

/** A chart's width: its box's, at least 320 px. */
export function chartWidth(box: HTMLElement): number {
  return Math.max(320, Math.floor(box.getBoundingClientRect().width || 800) - 4);
}

/** The chart a box shows, at most one: drawing the next one or leaving the page destroys the
 * last (uPlot keeps listeners on the window until it is destroyed). */
export class ChartSlot {
  private chart: uPlot | null = null;

  set(u: uPlot | null): void {
    this.chart?.destroy();
    this.chart = u;
  }

  readonly clear = (): void => this.set(null);
}
