// The design space of the front: one row per front member (by cost), one column per slot;
// a dw-scc cell reads cg/s and is shaded by its number of channel groups.
import type { FrontCost } from '../../config/serve.js';
import type { FrontAnswer } from '../views.js';
import { trialHref } from './api.js';
import { el } from './dom.js';
import { COST_NAMES, costText, percent } from './text.js';

const heat = (cg: number) => `heat-${Math.min(6, Math.round(Math.log2(cg)))}`;

export function designSection(name: string) {
  const root = el('section', { class: 'card', id: 'design' }, el('h2', {}, 'Design space of the front'));
  return {
    root,
    render(f: FrontAnswer, cost: FrontCost): void {
      const members = f.points.filter((p) => p.front).sort((a, b) => (a[cost] ?? 0) - (b[cost] ?? 0));
      const n = Math.max(0, ...members.map((p) => p.slots?.length ?? 0));
      const body = members.map((p) =>
        el(
          'tr',
          { class: 'link', on: { click: () => (location.hash = trialHref(name, p.trialId)) } },
          el('td', {}, p.label),
          el('td', { class: 'num' }, percent(p.accuracy)),
          el('td', { class: 'num' }, p[cost] === null ? '—' : costText(cost, p[cost])),
          (p.slots ?? []).map((s) =>
            s.cg === null
              ? el('td', { class: 'cell heat-other', title: s.text }, s.text.split(':')[0])
              : el('td', { class: `cell ${heat(s.cg)}`, title: s.text }, `${s.cg}/${s.s}`),
          ),
        ),
      );
      const head = el(
        'tr',
        {},
        el('th', {}, 'design'),
        el('th', { class: 'num' }, 'accuracy'),
        el('th', { class: 'num' }, COST_NAMES[cost]),
        Array.from({ length: n }, (_, i) => el('th', { class: 'num' }, `slot ${i}`)),
      );
      root.replaceChildren(
        el('h2', {}, 'Design space of the front'),
        el('p', { class: 'legend-note' }, 'one row per front member, one column per slot; a dw-scc cell reads cg/s (channel groups / channel stride), darker = more groups'),
        members.length === 0
          ? el('p', { class: 'muted' }, 'no front yet')
          : el('div', { class: 'heat-wrap' }, el('table', { class: 'heat', id: 'design-map' }, el('thead', {}, head), el('tbody', {}, body))),
      );
    },
  };
}
