// A sweep's trials as a table: filtered by state (the options list the states in the state
// machine's order, each with its count), sorted by any column, shown a page at a time.
import { TRIAL_STATES, emptyCounts, type TrialState } from '../../domain/trial-states.js';
import type { TrialListItem } from '../views.js';
import { trialHref } from './api.js';
import { el, stateBadge } from './dom.js';
import { count, percent, seconds } from './text.js';

const TABLE_PAGE = 200;

type Column = keyof TrialListItem;
/** key, heading, numeric */
const COLUMNS: readonly [Column, string, boolean][] = [
  ['id', 'id', true], ['label', 'design', false], ['state', 'state', false], ['rung', 'rung', true],
  ['epochs', 'epochs', true], ['seed', 'seed', true], ['accuracy', 'accuracy', true], ['macs', 'MACs', true],
  ['params', 'params', true], ['seconds', 'time (s)', true], ['device', 'device', false], ['error', 'error', false],
];

/** Ascending by `key`, missing values last, ties by id. */
function byColumn(key: Column, dir: 1 | -1) {
  return (a: TrialListItem, b: TrialListItem): number => {
    const x = a[key];
    const y = b[key];
    if (x === y) return a.id - b.id;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  };
}

export function trialsSection(name: string) {
  let trials: TrialListItem[] = [];
  let filter: TrialState | 'all' = 'all';
  let sort: { key: Column; dir: 1 | -1 } = { key: 'id', dir: 1 };
  let shown = TABLE_PAGE;
  const filterSel = el('select', { id: 'state-filter', 'aria-label': 'filter by state' });
  filterSel.addEventListener('change', () => {
    filter = filterSel.value as TrialState | 'all';
    shown = TABLE_PAGE;
    render();
  });
  const tableBox = el('div', { id: 'trial-table-box' });
  const root = el('section', { class: 'card', id: 'trials' }, el('h2', {}, 'Trials'), el('div', { class: 'row' }, el('label', {}, 'state ', filterSel)), tableBox);

  function render(): void {
    const counts = emptyCounts();
    for (const t of trials) counts[t.state]++;
    filterSel.replaceChildren(
      el('option', { value: 'all', dataset: { count: String(trials.length) } }, `all (${trials.length})`),
      ...TRIAL_STATES.map((s) => el('option', { value: s, dataset: { count: String(counts[s]) } }, `${s} (${counts[s]})`)),
    );
    filterSel.value = filter;
    const { key, dir } = sort;
    const rows = trials.filter((t) => filter === 'all' || t.state === filter).sort(byColumn(key, dir));
    const head = el(
      'tr',
      {},
      COLUMNS.map(([k, title, num]) =>
        el(
          'th',
          { class: num ? 'num' : '', 'aria-sort': key === k ? (dir > 0 ? 'ascending' : 'descending') : null },
          el(
            'button',
            {
              type: 'button',
              dataset: { sort: k },
              on: {
                click: () => {
                  sort = { key: k, dir: sort.key === k ? (-sort.dir as 1 | -1) : 1 };
                  render();
                },
              },
            },
            title,
            key === k ? (dir > 0 ? ' ▲' : ' ▼') : '',
          ),
        ),
      ),
    );
    const body = rows.slice(0, shown).map((t) =>
      el(
        'tr',
        { class: 'link', dataset: { trial: String(t.id), state: t.state }, on: { click: () => (location.hash = trialHref(name, t.id)) } },
        el('td', { class: 'num' }, t.id),
        el('td', {}, t.label, t.baseline ? ' (baseline)' : ''),
        el('td', {}, stateBadge(t.state)),
        el('td', { class: 'num' }, t.rung),
        el('td', { class: 'num' }, t.epochs),
        el('td', { class: 'num' }, t.seed),
        el('td', { class: 'num' }, percent(t.accuracy)),
        el('td', { class: 'num' }, count(t.macs)),
        el('td', { class: 'num' }, count(t.params)),
        el('td', { class: 'num' }, seconds(t.seconds)),
        el('td', {}, t.device ?? ''),
        el('td', { class: 'err', title: t.error ?? '' }, t.error ?? ''),
      ),
    );
    const more =
      rows.length > shown
        ? el(
            'button',
            {
              type: 'button',
              id: 'more',
              on: {
                click: () => {
                  shown += TABLE_PAGE * 5;
                  render();
                },
              },
            },
            `showing ${shown} of ${rows.length}: show more`,
          )
        : el('p', { class: 'muted', id: 'rows-note' }, `${rows.length} trial${rows.length === 1 ? '' : 's'}`);
    tableBox.replaceChildren(el('table', { id: 'trial-table' }, el('thead', {}, head), el('tbody', {}, body)), more);
  }

  return {
    root,
    render(next: TrialListItem[]): void {
      trials = next;
      render();
    },
  };
}
