// A sweep's progress: trials counted by state (in the state machine's order), the share
// finished, the ETA the server estimates, and the front's hypervolume over time.
import { FINISHED_STATES, TRIAL_STATES } from '../../domain/trial-states.js';
import type { SweepAnswer } from '../views.js';
import { ChartSlot, chartWidth } from './charts.js';
import { el } from './dom.js';
import { eta } from './text.js';

export function progressSection() {
  const countsBox = el('div', { class: 'counts', id: 'counts' });
  const bar = el('progress', { id: 'progress-bar', max: 1, value: 0 });
  const etaLine = el('p', { id: 'eta' });
  const hvBox = el('div', { class: 'chart', id: 'hv-chart' });
  const root = el('section', { class: 'card', id: 'progress' }, el('h2', {}, 'Progress'), countsBox, bar, etaLine, hvBox);
  const chart = new ChartSlot();

  return {
    root,
    destroy: chart.clear,
    counts(d: SweepAnswer): void {
      countsBox.replaceChildren(
        ...TRIAL_STATES.map((s) => el('span', { class: 'count', dataset: { state: s } }, el('b', { 'data-count': s }, d.counts[s] ?? 0), s)),
      );
      const finished = FINISHED_STATES.reduce((n, s) => n + d.counts[s], 0);
      bar.max = Math.max(1, d.trials);
      bar.value = finished;
      etaLine.replaceChildren(
        `${finished} of ${d.trials} trials finished · `,
        finished < d.trials ? `ETA ${eta(d.eta)} for the trials scheduled so far` : 'nothing left to run',
        ` · ${d.candidates} candidates compared at ${d.epochs ?? '—'} epochs · front hypervolume ${d.hypervolume.toFixed(4)}`,
      );
    },
    hypervolume(d: SweepAnswer): void {
      chart.clear();
      hvBox.replaceChildren();
      const pts = d.hypervolumeOverTime;
      if (pts.length < 2) {
        hvBox.append(el('p', { class: 'muted' }, 'hypervolume over time: shown once two trials are done'));
        return;
      }
      chart.set(
        new uPlot(
          {
            width: chartWidth(hvBox),
            height: 160,
            title: 'hypervolume of the done trials over time',
            legend: { show: false },
            scales: { x: { time: true }, y: { auto: true } },
            series: [{}, { label: 'hypervolume', stroke: '#2456a6', width: 2, points: { show: pts.length < 40 } }],
            axes: [{}, { values: (_u, ticks) => ticks.map((x) => x.toFixed(3)) }],
          },
          [pts.map((p) => p.t / 1000), pts.map((p) => p.hypervolume)],
          hvBox,
        ),
      );
    },
  };
}
