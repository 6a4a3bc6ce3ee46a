// One sweep: its progress, the front against the chosen cost, the front's design map, the
// trial table and the config. Each poll reads the sweep's detail; the trials and the front,
// the large answers, are read again only when the server's stamp says they changed.
import type { FrontCost } from '../../config/serve.js';
import type { FrontAnswer, TrialsAnswer } from '../views.js';
import { api, sweepHref } from './api.js';
import { designSection } from './design-map.js';
import { crumbs, el } from './dom.js';
import { frontSection } from './front-section.js';
import { progressSection } from './progress-section.js';
import { when } from './text.js';
import { trialsSection } from './trial-table.js';
import type { View } from './view.js';

export function sweepPage(app: HTMLElement, name: string): View {
  crumbs(el('a', { href: '#/' }, 'sweeps'), el('a', { href: sweepHref(name) }, name));
  let stamp: string | null = null;
  let cost: FrontCost = 'macs';
  let first = true;

  const title = el('h1', { id: 'sweep-title' }, name);
  const meta = el('p', { class: 'muted', id: 'sweep-meta' });
  const progress = progressSection();
  const frontSec = frontSection(name, async (c) => {
    cost = c;
    drawFront(await api.front(name, cost));
  });
  const design = designSection(name);
  const trials = trialsSection(name);
  const config = el('details', { class: 'card', id: 'config' }, el('summary', {}, 'Sweep config'));

  function drawFront(f: FrontAnswer): void {
    frontSec.render(f, cost);
    design.render(f, cost);
  }

  return {
    async refresh() {
      // the first time, ask for everything at once rather than one after the other
      const early: [Promise<TrialsAnswer>, Promise<FrontAnswer>] | null = stamp === null ? [api.trials(name), api.front(name, cost)] : null;
      for (const p of early ?? []) p.catch(() => {});
      const d = await api.sweep(name);
      if (first) {
        first = false;
        app.replaceChildren(title, meta, progress.root, frontSec.root, design.root, trials.root, config);
        config.append(el('pre', {}, JSON.stringify(d.config, null, 2)));
      }
      progress.counts(d);
      meta.replaceChildren([d.model, d.dataset && `on ${d.dataset}`, d.status, `created ${when(d.createdAt)}`].filter(Boolean).join(' · '));
      const shown = frontSec.syncCosts(d.costs, cost);
      if (d.stamp === stamp && shown === cost) return;
      cost = shown;
      const [listing, f] = await Promise.all(early ?? [api.trials(name), api.front(name, cost)]);
      // answers from an older copy than the detail's are shown, and fetched again next time
      stamp = listing.stamp === d.stamp && f.stamp === d.stamp ? d.stamp : `stale:${listing.stamp}`;
      progress.hypervolume(d);
      drawFront(f);
      trials.render(listing.trials);
    },
    fail(err) {
      if (first) app.replaceChildren(el('h1', {}, name), el('p', { class: 'error' }, err.message));
    },
    destroy() {
      progress.destroy();
      frontSec.destroy();
    },
  };
}
