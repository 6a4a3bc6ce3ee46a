// One trial: its result, per-slot settings (in the notation the CLI prints), learning
// curves and provenance. Redrawn only when its state, epochs or finish time change.
import { slotText } from '../../models/notation.js';
import type { EpochMetrics } from '../../domain/metrics.js';
import { api, sweepHref } from './api.js';
import { chartWidth } from './charts.js';
import { crumbs, el, stateBadge, type Child } from './dom.js';
import { count, fixed, percent, seconds, when } from './text.js';
import type { View } from './view.js';

/** label, colour, value per epoch */
type Curve = [string, string, (e: EpochMetrics) => number | undefined];

function fact(k: string, v: Child): Child[] {
  return [el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? '—' : v)];
}

export function trialPage(app: HTMLElement, name: string, idText: string): View {
  crumbs(el('a', { href: '#/' }, 'sweeps'), el('a', { href: sweepHref(name) }, name), `trial ${idText}`);
  const charts: uPlot[] = [];
  let lastKey: string | null = null;
  const destroy = () => {
    for (const c of charts.splice(0)) c.destroy();
  };

  function curves(box: HTMLElement, title: string, epochs: readonly EpochMetrics[], series: readonly Curve[]): void {
    const values = (get: Curve[2]) =>
      epochs.map((e) => {
        const v = get(e);
        return v !== undefined && Number.isFinite(v) ? v : null;
      });
    charts.push(
      new uPlot(
        {
          width: chartWidth(box),
          height: 240,
          title,
          scales: { x: { time: false } },
          series: [{ label: 'epoch' }, ...series.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true, points: { show: true, size: 5 } }))],
          axes: [{ label: 'epoch' }, { size: 60 }],
        },
        [epochs.map((e) => e.epoch), ...series.map(([, , get]) => values(get))],
        box,
      ),
    );
  }

  return {
    async refresh() {
      const { trial: t, epochs } = await api.trial(name, idText);
      const key = `${t.state}:${epochs.length}:${t.finishedAt}`;
      if (key === lastKey) return;
      lastKey = key;
      destroy();
      const lossBox = el('div', { class: 'chart curve', id: 'loss-curve' });
      const accBox = el('div', { class: 'chart curve', id: 'accuracy-curve' });
      const result = el(
        'dl',
        { class: 'facts' },
        fact('state', t.state),
        fact('accuracy', percent(t.accuracy)),
        fact('test loss', fixed(t.testLoss, 4)),
        fact('train loss', fixed(t.trainLoss, 4)),
        fact('train accuracy', percent(t.trainAccuracy)),
        fact('MACs', count(t.macs)),
        fact('params', count(t.params)),
        fact('FLOPs', count(t.flops)),
        fact('epochs', t.epochs),
        fact('rung', t.rung),
        fact('round', t.round),
        fact('seed', t.seed),
        fact('device', t.device),
        fact('time', t.seconds === null ? null : `${seconds(t.seconds)} s`),
        fact('images/s', t.imagesPerSecond === null || t.imagesPerSecond === undefined ? null : Math.round(t.imagesPerSecond)),
        fact('worker', t.workerId),
        fact('attempts', t.attempts),
        fact('reused from', t.reusedFrom),
        fact('queued', when(t.queuedAt)),
        fact('started', when(t.startedAt)),
        fact('finished', when(t.finishedAt)),
        fact('error', t.error ? el('span', { class: 'error' }, t.error) : null),
      );
      const slots = el(
        'table',
        {},
        el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'slot'), el('th', {}, 'variant'))),
        el('tbody', {}, t.variants.map((v, i) => el('tr', {}, el('td', { class: 'num' }, i), el('td', {}, slotText(v))))),
      );
      const provenance = Object.entries(t.provenance ?? {}).map(([k, v]) =>
        fact(k, typeof v === 'object' && v !== null ? el('pre', {}, JSON.stringify(v, null, 2)) : String(v)),
      );
      app.replaceChildren(
        el('h1', { id: 'trial-title' }, `Trial ${t.id}: `, el('span', { class: 'trial-label' }, t.label), ' ', stateBadge(t.state)),
        el(
          'div',
          { class: 'grid2' },
          el('section', { class: 'card', id: 'trial-facts' }, el('h2', {}, 'Result'), result),
          el('section', { class: 'card', id: 'trial-slots' }, el('h2', {}, 'Per-slot settings'), slots),
        ),
        el(
          'section',
          { class: 'card', id: 'curves', dataset: { epochs: String(epochs.length) } },
          el('h2', {}, 'Learning curves'),
          epochs.length === 0 ? el('p', { class: 'muted' }, 'no epoch metrics recorded (yet)') : el('div', { class: 'grid2' }, lossBox, accBox),
        ),
        el(
          'section',
          { class: 'card', id: 'provenance' },
          el('h2', {}, 'Provenance'),
          el('dl', { class: 'facts' }, fact('candidate hash', t.candidateHash), fact('recipe hash', t.recipeHash), provenance),
        ),
      );
      if (epochs.length > 0) {
        curves(lossBox, 'loss', epochs, [
          ['train loss', '#c8324a', (e) => e.trainLoss],
          ['test loss', '#2456a6', (e) => e.testLoss],
        ]);
        curves(accBox, 'accuracy', epochs, [
          ['train accuracy', '#c8324a', (e) => e.trainAccuracy],
          ['test accuracy', '#2456a6', (e) => e.testAccuracy],
        ]);
      }
    },
    fail(err) {
      app.replaceChildren(el('h1', {}, `trial ${idText}`), el('p', { class: 'error' }, err.message));
    },
    destroy,
  };
}
