// The landing page: the store's sweeps, newest first, with their trials counted by state.
import { TRIAL_STATES } from '../../domain/trial-states.js';
import { api, sweepHref } from './api.js';
import { crumbs, el } from './dom.js';
import { when } from './text.js';
import type { View } from './view.js';

export function sweepsPage(app: HTMLElement): View {
  crumbs(el('a', { href: '#/' }, 'sweeps'));
  return {
    async refresh() {
      const { sweeps } = await api.sweeps();
      if (sweeps.length === 0) {
        app.replaceChildren(el('h1', {}, 'Sweeps'), el('p', { class: 'muted' }, 'this store has no sweeps yet'));
        return;
      }
      const rows = sweeps.map((s) =>
        el(
          'tr',
          { class: 'sweep-row', dataset: { sweep: s.name } },
          el('td', {}, el('a', { href: sweepHref(s.name), class: 'sweep-link' }, s.name)),
          el('td', {}, s.status),
          el('td', {}, s.model ?? ''),
          el('td', {}, s.dataset ?? ''),
          el('td', { class: 'num' }, s.trials),
          TRIAL_STATES.map((st) => el('td', { class: 'num' }, s.counts[st] ?? 0)),
          el('td', {}, when(s.createdAt)),
        ),
      );
      const head = el(
        'tr',
        {},
        ['sweep', 'status', 'model', 'dataset'].map((h) => el('th', {}, h)),
        el('th', { class: 'num' }, 'trials'),
        TRIAL_STATES.map((s) => el('th', { class: 'num' }, s)),
        el('th', {}, 'created'),
      );
      app.replaceChildren(
        el('h1', {}, 'Sweeps'),
        el('section', { class: 'card' }, el('table', { id: 'sweeps' }, el('thead', {}, head), el('tbody', {}, rows))),
      );
    },
    fail(err) {
      app.replaceChildren(el('h1', {}, 'Sweeps'), el('p', { class: 'error' }, err.message));
    },
  };
}
