// The Pareto front of accuracy against a cost (MACs, params, or measured latency): every
// compared candidate on a log-scale cost axis, the front as a step line, front members and
// baselines as buttons laid over the chart (hover: the design; click: its trial).
import type { FrontCost } from '../../config/serve.js';
import type { FrontAnswer, FrontPoint } from '../views.js';
import { trialHref } from './api.js';
import { ChartSlot, chartWidth } from './charts.js';
import { el } from './dom.js';
import { COST_NAMES, costText, count, ms, percent } from './text.js';

const costsText = (p: FrontPoint): string =>
  `MACs ${count(p.macs)} · params ${count(p.params)}${p.latency === null ? '' : ` · latency ${ms(p.latency)} ms`}`;

/** A point's tip: a front member's or baseline's design, or a dominated point's trial. */
export function describePoint(p: FrontPoint): string {
  if (p.label === undefined) return `trial ${p.trialId}: accuracy ${percent(p.accuracy)} · ${costsText(p)} (dominated; click for the design)`;
  const seeds = p.seeds !== undefined && p.seeds > 1 ? ` ± ${percent(p.accuracyStd)} (${p.seeds} seeds)` : '';
  return (
    `${p.label}\naccuracy ${percent(p.accuracy)}${seeds}\n` +
    `${costsText(p)}${p.baseline ? ' · baseline' : ''}${p.front ? ' · on the front' : ''}\n${p.design}`
  );
}

/** Whether a log axis' tick is 1, 2 or 5 times a power of ten. */
const logStep125 = (x: number): boolean => {
  const m = x / 10 ** Math.floor(Math.log10(x) + 1e-9);
  return [1, 2, 5].some((d) => Math.abs(m - d) < 1e-6 * d);
};

/** `cost` of a point, when it has one to draw on a log axis. */
const costOf = (p: FrontPoint, cost: FrontCost): number | null => p[cost];

export function frontSection(name: string, onCost: (cost: FrontCost) => void) {
  const costSel = el('select', { id: 'front-x', 'aria-label': 'cost axis' });
  costSel.addEventListener('change', () => onCost(costSel.value as FrontCost));
  const frontBox = el('div', { class: 'chart', id: 'front-chart' });
  const hoverInfo = el('div', { class: 'hover-info', id: 'hover-info' });
  const tip = el('div', { class: 'tip hidden', id: 'tip' });
  const root = el(
    'section',
    { class: 'card', id: 'front' },
    el('h2', {}, 'Pareto front'),
    el(
      'div',
      { class: 'row' },
      el('label', {}, 'accuracy against ', costSel, ' (log scale)'),
      el('span', { class: 'legend-note' }, 'filled: on the front · hollow dots: dominated · diamonds: baselines · click a point for its trial'),
    ),
    frontBox,
    hoverInfo,
  );
  const chart = new ChartSlot();
  const open = (p: FrontPoint) => (location.hash = trialHref(name, p.trialId));

  function showTip(target: Element, text: string): void {
    tip.textContent = text;
    tip.classList.remove('hidden');
    const box = frontBox.getBoundingClientRect();
    const r = target.getBoundingClientRect();
    tip.style.left = `${r.left - box.left + 14}px`;
    tip.style.top = `${r.top - box.top + 14}px`;
  }
  const hideTip = () => tip.classList.add('hidden');

  /** Front members and baselines as buttons at their place on the chart (again after each
   * redraw). */
  function place(layer: HTMLElement, u: uPlot, pts: readonly FrontPoint[], cost: FrontCost): void {
    layer.replaceChildren();
    for (const p of pts) {
      if (!p.front && !p.baseline) continue;
      const left = u.valToPos(costOf(p, cost)!, 'x');
      const top = u.valToPos(p.accuracy, 'y');
      const tipOf = (ev: Event) => showTip(ev.currentTarget as Element, describePoint(p));
      const b = el('button', {
        type: 'button',
        class: `pt${p.front ? ' front-point' : ''}${p.baseline ? ' baseline-point' : ''}`,
        'aria-label': p.label,
        dataset: { label: p.label ?? '', trial: String(p.trialId), hash: p.hash ?? '' },
        on: {
          click: (ev) => {
            ev.stopPropagation();
            open(p);
          },
          mouseenter: tipOf,
          mouseleave: hideTip,
          focus: tipOf,
          blur: hideTip,
        },
      });
      b.style.left = `${left}px`;
      b.style.top = `${top}px`;
      layer.append(b);
      if (p.baseline) {
        const l = el('span', { class: 'bl-label' }, p.label);
        l.style.left = `${left}px`;
        l.style.top = `${top}px`;
        layer.append(l);
      }
    }
  }

  return {
    root,
    destroy: chart.clear,
    /** Offer the costs the sweep can be drawn against (latency once measured); returns the
     * one to draw, `cost` unless it is not offered. */
    syncCosts(costs: readonly FrontCost[], cost: FrontCost): FrontCost {
      const shown = costs.includes(cost) ? cost : costs[0]!;
      if (costs.join() !== [...costSel.options].map((o) => o.value).join()) {
        costSel.replaceChildren(...costs.map((c) => el('option', { value: c }, COST_NAMES[c])));
      }
      costSel.value = shown;
      return shown;
    },
    render(f: FrontAnswer, cost: FrontCost): void {
      chart.clear();
      frontBox.replaceChildren(tip);
      hoverInfo.textContent = '';
      const pts = f.points
        .filter((p) => (costOf(p, cost) ?? 0) > 0)
        .sort((a, b) => costOf(a, cost)! - costOf(b, cost)! || a.accuracy - b.accuracy);
      if (pts.length === 0) {
        frontBox.append(el('p', { class: 'muted' }, 'no done trials yet'));
        return;
      }
      const none = () => null;
      const layer = el('div', { class: 'overlay', id: 'front-overlay' });
      const u = new uPlot(
        {
          width: chartWidth(frontBox),
          height: 380,
          legend: { show: false },
          cursor: { points: { show: false }, drag: { x: false, y: false } },
          scales: { x: { time: false, distr: 3 }, y: { auto: true } },
          series: [
            {},
            {
              label: 'dominated',
              stroke: 'rgba(36,86,166,0.35)',
              paths: none,
              points: { show: true, size: 6, width: 1, stroke: 'rgba(36,86,166,0.35)', fill: 'rgba(36,86,166,0.08)' },
            },
            { label: 'front', stroke: '#c8324a', width: 1.5, spanGaps: true, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
            { label: 'baselines', stroke: 'rgba(0,0,0,0)', paths: none, points: { show: false } },
          ],
          axes: [
            {
              label: `${COST_NAMES[cost]} (log scale)`,
              values: (_u, ticks) => ticks.map((x) => costText(cost, x)),
              // labels at 1, 2 and 5 of each decade: a front spanning less than a decade
              // would otherwise show one label or none
              filter: (_u, splits) => splits.map((x) => (logStep125(x) ? x : null)),
            },
            { label: 'accuracy', values: (_u, ticks) => ticks.map((x) => `${(x * 100).toFixed(1)}%`), size: 60 },
          ],
          hooks: {
            draw: [(u) => place(layer, u, pts, cost)],
            setCursor: [
              (u) => {
                const i = u.cursor.idx;
                hoverInfo.textContent = i === null || i === undefined ? '' : `nearest: ${describePoint(pts[i]!).replace(/\n/g, ' · ')}`;
              },
            ],
          },
        },
        [
          pts.map((p) => costOf(p, cost)!),
          pts.map((p) => (!p.front && !p.baseline ? p.accuracy : null)),
          pts.map((p) => (p.front ? p.accuracy : null)),
          pts.map((p) => (p.baseline ? p.accuracy : null)),
        ],
        frontBox,
      );
      u.over.append(layer);
      u.over.addEventListener('click', () => {
        const i = u.cursor.idx;
        if (i !== null && i !== undefined) open(pts[i]!);
      });
      chart.set(u);
    },
  };
}
