// The dashboard page: a list of sweeps, one sweep (progress, front, design map, trials) and
// one trial (curves, slots, provenance), routed by the URL's hash and refreshed by polling
// the JSON API every second. Every string from the store reaches the DOM as text (el()
// appends text nodes and sets attributes; nothing here assigns innerHTML).
/* global uPlot */

const POLL_MS = 1000;
const TABLE_PAGE = 200;
const STATES = ['done', 'running', 'queued', 'failed', 'pruned', 'diverged'];
const TOKEN = new URLSearchParams(location.search).get('token');

// ---- small helpers ----

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

async function api(path) {
  const headers = TOKEN ? { authorization: `Bearer ${TOKEN}` } : {};
  const r = await fetch(path, { headers, credentials: 'same-origin', cache: 'no-store' });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

const enc = encodeURIComponent;
const sweepHref = (name) => `#/sweep/${enc(name)}`;
const trialHref = (name, id) => `#/sweep/${enc(name)}/trial/${id}`;

function fmtCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toPrecision(3)} G`;
  if (a >= 1e6) return `${(n / 1e6).toPrecision(3)} M`;
  if (a >= 1e3) return `${(n / 1e3).toPrecision(3)} k`;
  return String(Math.round(n * 100) / 100);
}
const pct = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '' : `${(v * 100).toFixed(2)}%`);
const secs = (v) => (v === null || v === undefined ? '' : v < 100 ? v.toFixed(1) : String(Math.round(v)));
function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const COST_NAMES = { macs: 'MACs', params: 'params', latency: 'latency (ms)' };
// uPlot hands axis formatters null for ticks it skips
const fmtMs = (v) => (v === null || v === undefined ? '' : v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));
const fmtCost = (cost, v) => (cost === 'latency' ? fmtMs(v) : fmtCount(v));

function stateBadge(state) {
  return el('span', { class: `state state-${state}` }, state);
}

function crumbs(...parts) {
  const nav = document.getElementById('crumbs');
  nav.replaceChildren(...parts.flatMap((p, i) => [i ? ' / ' : '', p]));
}

function setLive(ok) {
  document.getElementById('live').classList.toggle('stale', !ok);
  document.getElementById('live').textContent = ok ? 'live' : 'server unreachable';
}

function chartWidth(container) {
  return Math.max(320, Math.floor(container.getBoundingClientRect().width || 800) - 4);
}

// ---- routing and polling ----

let view = null; // { refresh(): Promise<void>, destroy?(): void }
let timer = null;
let busy = false;

function route() {
  const h = location.hash.replace(/^#/, '') || '/';
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  if (view?.destroy) view.destroy();
  view = null;
  const app = document.getElementById('app');
  app.replaceChildren(el('p', { class: 'muted' }, 'loading…'));
  let name = null;
  try {
    name = parts[0] === 'sweep' && parts[1] ? decodeURIComponent(parts[1]) : null;
  } catch {
    // a malformed %-sequence in a hand-typed URL: the unknown-page message below
  }
  if (name !== null) {
    if (parts[2] === 'trial' && parts[3]) view = trialView(app, name, parts[3]);
    else view = sweepView(app, name);
  } else if (h === '/' || h === '') view = sweepsView(app);
  else app.replaceChildren(el('p', { class: 'error' }, 'unknown page; '), el('a', { href: '#/' }, 'back to the sweeps'));
  tick();
}

async function tick() {
  if (busy || !view) return;
  busy = true;
  const current = view;
  try {
    await current.refresh();
    setLive(true);
  } catch (err) {
    if (current === view) current.fail?.(err);
    setLive(false);
  } finally {
    busy = false;
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  route();
  timer = setInterval(tick, POLL_MS);
});

// ---- the landing page: sweeps in the store ----

function sweepsView(app) {
  crumbs(el('a', { href: '#/' }, 'sweeps'));
  return {
    async refresh() {
      const { sweeps } = await api('/api/sweeps');
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
          STATES.map((st) => el('td', { class: 'num' }, s.counts[st] ?? 0)),
          el('td', {}, when(s.createdAt)),
        ),
      );
      app.replaceChildren(
        el('h1', {}, 'Sweeps'),
        el(
          'section',
          { class: 'card' },
          el(
            'table',
            { id: 'sweeps' },
            el('thead', {}, el('tr', {}, ['sweep', 'status', 'model', 'dataset'].map((h) => el('th', {}, h)),
              el('th', { class: 'num' }, 'trials'), STATES.map((s) => el('th', { class: 'num' }, s)), el('th', {}, 'created'))),
            el('tbody', {}, rows),
          ),
        ),
      );
    },
    fail(err) {
      app.replaceChildren(el('h1', {}, 'Sweeps'), el('p', { class: 'error' }, err.message));
    },
  };
}

// ---- one sweep ----

function sweepView(app, name) {
  crumbs(el('a', { href: '#/' }, 'sweeps'), el('a', { href: sweepHref(name) }, name));
  const state = { stamp: null, cost: 'macs', sort: { key: 'id', dir: 1 }, filter: 'all', shown: TABLE_PAGE, trials: [], front: null };
  let hvChart = null;
  let frontChart = null;
  const title = el('h1', { id: 'sweep-title' }, name);
  const meta = el('p', { class: 'muted', id: 'sweep-meta' });
  const progress = el('section', { class: 'card', id: 'progress' }, el('h2', {}, 'Progress'));
  const countsBox = el('div', { class: 'counts', id: 'counts' });
  const bar = el('progress', { id: 'progress-bar', max: 1, value: 0 });
  const etaLine = el('p', { id: 'eta' });
  const hvBox = el('div', { class: 'chart', id: 'hv-chart' });
  progress.append(countsBox, bar, etaLine, hvBox);

  const costSel = el('select', { id: 'front-x', 'aria-label': 'cost axis' });
  // latency is offered only once the sweep has measured it (the detail's `costs`)
  function syncCosts(costs) {
    if (costs.join() === [...costSel.options].map((o) => o.value).join()) return;
    if (!costs.includes(state.cost)) state.cost = costs[0];
    costSel.replaceChildren(...costs.map((c) => el('option', { value: c }, COST_NAMES[c])));
    costSel.value = state.cost;
  }
  costSel.addEventListener('change', async () => {
    state.cost = costSel.value;
    state.front = await api(`/api/sweeps/${enc(name)}/front?x=${state.cost}`);
    renderFront();
    renderDesign();
  });
  const frontBox = el('div', { class: 'chart', id: 'front-chart' });
  const hoverInfo = el('div', { class: 'hover-info', id: 'hover-info' });
  const tip = el('div', { class: 'tip hidden', id: 'tip' });
  const frontSec = el(
    'section',
    { class: 'card', id: 'front' },
    el('h2', {}, 'Pareto front'),
    el('div', { class: 'row' }, el('label', {}, 'accuracy against ', costSel, ' (log scale)'),
      el('span', { class: 'legend-note' }, 'filled: on the front · hollow dots: dominated · diamonds: baselines · click a point for its trial')),
    frontBox,
    hoverInfo,
  );
  const designSec = el('section', { class: 'card', id: 'design' }, el('h2', {}, 'Design space of the front'));
  const filterSel = el('select', { id: 'state-filter', 'aria-label': 'filter by state' });
  filterSel.addEventListener('change', () => {
    state.filter = filterSel.value;
    state.shown = TABLE_PAGE;
    renderTable();
  });
  const tableBox = el('div', { id: 'trial-table-box' });
  const trialsSec = el('section', { class: 'card', id: 'trials' }, el('h2', {}, 'Trials'), el('div', { class: 'row' }, el('label', {}, 'state ', filterSel)), tableBox);
  const configSec = el('details', { class: 'card', id: 'config' }, el('summary', {}, 'Sweep config'));
  let first = true;

  function destroyCharts() {
    hvChart?.destroy();
    frontChart?.destroy();
    hvChart = frontChart = null;
  }

  function renderCounts(d) {
    countsBox.replaceChildren(
      ...STATES.map((s) => el('span', { class: 'count', dataset: { state: s } }, el('b', { 'data-count': s }, d.counts[s] ?? 0), s)),
    );
    const finished = d.trials - d.counts.queued - d.counts.running;
    bar.max = Math.max(1, d.trials);
    bar.value = finished;
    etaLine.replaceChildren(
      `${finished} of ${d.trials} trials finished · `,
      d.counts.queued + d.counts.running > 0 ? `ETA ${duration(d.eta)}` : 'nothing left to run',
      ` · ${d.candidates} candidates compared at ${d.epochs ?? '—'} epochs · front hypervolume ${d.hypervolume.toFixed(4)}`,
    );
    meta.replaceChildren([d.model, d.dataset && `on ${d.dataset}`, d.status, `created ${when(d.createdAt)}`].filter(Boolean).join(' · '));
  }

  function renderHv(d) {
    hvChart?.destroy();
    hvChart = null;
    hvBox.replaceChildren();
    const pts = d.hypervolumeOverTime;
    if (pts.length < 2) {
      hvBox.append(el('p', { class: 'muted' }, 'hypervolume over time: shown once two trials are done'));
      return;
    }
    const u = new uPlot(
      {
        width: chartWidth(hvBox),
        height: 160,
        title: 'hypervolume of the done trials over time',
        legend: { show: false },
        scales: { x: { time: true }, y: { auto: true } },
        series: [{}, { label: 'hypervolume', stroke: '#2456a6', width: 2, points: { show: pts.length < 40 } }],
        axes: [{}, { values: (_, v) => v.map((x) => x.toFixed(3)) }],
      },
      [pts.map((p) => p.t / 1000), pts.map((p) => p.hypervolume)],
      hvBox,
    );
    hvChart = u;
  }

  function showTip(target, text) {
    tip.textContent = text;
    tip.classList.remove('hidden');
    const box = frontBox.getBoundingClientRect();
    const r = target.getBoundingClientRect();
    tip.style.left = `${r.left - box.left + 14}px`;
    tip.style.top = `${r.top - box.top + 14}px`;
  }
  const hideTip = () => tip.classList.add('hidden');
  const costsText = (p) => `MACs ${fmtCount(p.macs)} · params ${fmtCount(p.params)}${p.latency === null ? '' : ` · latency ${fmtMs(p.latency)} ms`}`;
  const describe = (p) =>
    p.label === undefined
      ? `trial ${p.trialId}: accuracy ${pct(p.accuracy)} · ${costsText(p)} (dominated; click for the design)`
      : `${p.label}\naccuracy ${pct(p.accuracy)}${p.seeds > 1 ? ` ± ${pct(p.accuracyStd)} (${p.seeds} seeds)` : ''}\n` +
        `${costsText(p)}${p.baseline ? ' · baseline' : ''}${p.front ? ' · on the front' : ''}\n${p.design}`;

  function renderFront() {
    const f = state.front;
    const cost = state.cost;
    if (frontChart) frontChart.destroy();
    frontChart = null;
    frontBox.replaceChildren(tip);
    hoverInfo.textContent = '';
    const pts = f.points.filter((p) => p[cost] !== null && p[cost] > 0).sort((a, b) => a[cost] - b[cost] || a.accuracy - b.accuracy);
    if (pts.length === 0) {
      frontBox.append(el('p', { class: 'muted' }, 'no done trials yet'));
      return;
    }
    const overlay = el('div', { class: 'overlay', id: 'front-overlay' });
    const place = (u) => {
      overlay.replaceChildren();
      for (const p of pts) {
        if (!p.front && !p.baseline) continue;
        const left = u.valToPos(p[cost], 'x');
        const top = u.valToPos(p.accuracy, 'y');
        const b = el('button', {
          type: 'button',
          class: `pt${p.front ? ' front-point' : ''}${p.baseline ? ' baseline-point' : ''}`,
          'aria-label': p.label,
          dataset: { label: p.label, trial: String(p.trialId), hash: p.hash },
          onclick: (ev) => {
            ev.stopPropagation();
            location.hash = trialHref(name, p.trialId);
          },
          onmouseenter: (ev) => showTip(ev.currentTarget, describe(p)),
          onmouseleave: hideTip,
          onfocus: (ev) => showTip(ev.currentTarget, describe(p)),
          onblur: hideTip,
        });
        b.style.left = `${left}px`;
        b.style.top = `${top}px`;
        overlay.append(b);
        if (p.baseline) {
          const l = el('span', { class: 'bl-label' }, p.label);
          l.style.left = `${left}px`;
          l.style.top = `${top}px`;
          overlay.append(l);
        }
      }
    };
    const none = () => null;
    const u = new uPlot(
      {
        width: chartWidth(frontBox),
        height: 380,
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false } },
        scales: { x: { time: false, distr: 3 }, y: { auto: true } },
        series: [
          {},
          { label: 'dominated', stroke: 'rgba(36,86,166,0.35)', paths: none, points: { show: true, size: 6, width: 1, stroke: 'rgba(36,86,166,0.35)', fill: 'rgba(36,86,166,0.08)' } },
          { label: 'front', stroke: '#c8324a', width: 1.5, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
          { label: 'baselines', stroke: 'rgba(0,0,0,0)', paths: none, points: { show: false } },
        ],
        axes: [
          { label: `${COST_NAMES[cost]} (log scale)`, values: (_, v) => v.map((x) => fmtCost(cost, x)) },
          { label: 'accuracy', values: (_, v) => v.map((x) => `${(x * 100).toFixed(1)}%`), size: 60 },
        ],
        hooks: {
          draw: [place],
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              hoverInfo.textContent = i === null || i === undefined ? '' : `nearest: ${describe(pts[i]).replace(/\n/g, ' · ')}`;
            },
          ],
        },
      },
      [
        pts.map((p) => p[cost]),
        pts.map((p) => (!p.front && !p.baseline ? p.accuracy : null)),
        pts.map((p) => (p.front ? p.accuracy : null)),
        pts.map((p) => (p.baseline ? p.accuracy : null)),
      ],
      frontBox,
    );
    u.over.append(overlay);
    u.over.addEventListener('click', () => {
      const i = u.cursor.idx;
      if (i !== null && i !== undefined) location.hash = trialHref(name, pts[i].trialId);
    });
    frontChart = u;
  }

  function renderDesign() {
    const cost = state.cost;
    const members = state.front.points.filter((p) => p.front).sort((a, b) => a[cost] - b[cost]);
    const n = Math.max(0, ...members.map((p) => p.slots.length));
    const heat = (cg) => `heat-${Math.min(6, Math.round(Math.log2(cg)))}`;
    const body = members.map((p) =>
      el(
        'tr',
        { class: 'link', onclick: () => (location.hash = trialHref(name, p.trialId)) },
        el('td', {}, p.label),
        el('td', { class: 'num' }, pct(p.accuracy)),
        el('td', { class: 'num' }, p[cost] === null ? '—' : fmtCost(cost, p[cost])),
        p.slots.map((s) =>
          s.cg === null
            ? el('td', { class: 'cell heat-other', title: s.text }, s.text.split(':')[0])
            : el('td', { class: `cell ${heat(s.cg)}`, title: s.text }, `${s.cg}/${s.s}`),
        ),
      ),
    );
    designSec.replaceChildren(
      el('h2', {}, 'Design space of the front'),
      el('p', { class: 'legend-note' }, 'one row per front member, one column per slot; a dw-scc cell reads cg/s (channel groups / channel stride), darker = more groups'),
      members.length === 0
        ? el('p', { class: 'muted' }, 'no front yet')
        : el('div', { class: 'heat-wrap' }, el('table', { class: 'heat', id: 'design-map' },
            el('thead', {}, el('tr', {}, el('th', {}, 'design'), el('th', { class: 'num' }, 'accuracy'), el('th', { class: 'num' }, COST_NAMES[cost]),
              Array.from({ length: n }, (_, i) => el('th', { class: 'num' }, `slot ${i}`)))),
            el('tbody', {}, body))),
    );
  }

  const COLUMNS = [
    ['id', 'id', true], ['label', 'design', false], ['state', 'state', false], ['rung', 'rung', true], ['epochs', 'epochs', true],
    ['seed', 'seed', true], ['accuracy', 'accuracy', true], ['macs', 'MACs', true], ['params', 'params', true],
    ['seconds', 'time (s)', true], ['device', 'device', false], ['error', 'error', false],
  ];

  function renderTable() {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const t of state.trials) counts[t.state]++;
    filterSel.replaceChildren(
      el('option', { value: 'all', dataset: { count: String(state.trials.length) } }, `all (${state.trials.length})`),
      ...STATES.map((s) => el('option', { value: s, dataset: { count: String(counts[s]) } }, `${s} (${counts[s]})`)),
    );
    filterSel.value = state.filter;
    const { key, dir } = state.sort;
    const rows = state.trials
      .filter((t) => state.filter === 'all' || t.state === state.filter)
      .sort((a, b) => {
        const x = a[key];
        const y = b[key];
        if (x === y) return a.id - b.id;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    const head = el(
      'tr',
      {},
      COLUMNS.map(([k, t, num]) =>
        el('th', { class: num ? 'num' : '', 'aria-sort': key === k ? (dir > 0 ? 'ascending' : 'descending') : null },
          el('button', { type: 'button', dataset: { sort: k }, onclick: () => {
            state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : 1 };
            renderTable();
          } }, t, key === k ? (dir > 0 ? ' ▲' : ' ▼') : '')),
      ),
    );
    const body = rows.slice(0, state.shown).map((t) =>
      el(
        'tr',
        { class: 'link', dataset: { trial: String(t.id), state: t.state }, onclick: () => (location.hash = trialHref(name, t.id)) },
        el('td', { class: 'num' }, t.id),
        el('td', {}, t.label, t.baseline ? ' (baseline)' : ''),
        el('td', {}, stateBadge(t.state)),
        el('td', { class: 'num' }, t.rung),
        el('td', { class: 'num' }, t.epochs),
        el('td', { class: 'num' }, t.seed),
        el('td', { class: 'num' }, pct(t.accuracy)),
        el('td', { class: 'num' }, fmtCount(t.macs)),
        el('td', { class: 'num' }, fmtCount(t.params)),
        el('td', { class: 'num' }, secs(t.seconds)),
        el('td', {}, t.device ?? ''),
        el('td', { class: 'err', title: t.error ?? '' }, t.error ?? ''),
      ),
    );
    const more =
      rows.length > state.shown
        ? el('button', { type: 'button', id: 'more', onclick: () => { state.shown += TABLE_PAGE * 5; renderTable(); } },
            `showing ${state.shown} of ${rows.length}: show more`)
        : el('p', { class: 'muted', id: 'rows-note' }, `${rows.length} trial${rows.length === 1 ? '' : 's'}`);
    tableBox.replaceChildren(el('table', { id: 'trial-table' }, el('thead', {}, head), el('tbody', {}, body)), more);
  }

  return {
    async refresh() {
      // the first time, ask for everything at once rather than one after the other
      const early = state.stamp === null ? [api(`/api/sweeps/${enc(name)}/trials`), api(`/api/sweeps/${enc(name)}/front?x=${state.cost}`)] : null;
      early?.forEach((p) => p.catch(() => {}));
      const d = await api(`/api/sweeps/${enc(name)}`);
      if (first) {
        first = false;
        app.replaceChildren(title, meta, progress, frontSec, designSec, trialsSec, configSec);
        configSec.append(el('pre', {}, JSON.stringify(d.config, null, 2)));
      }
      renderCounts(d);
      syncCosts(d.costs);
      if (d.stamp === state.stamp) return;
      const [trials, front] = await Promise.all(
        early ?? [api(`/api/sweeps/${enc(name)}/trials`), api(`/api/sweeps/${enc(name)}/front?x=${state.cost}`)],
      );
      // answers from an older copy than the detail's are shown, and fetched again next time
      state.stamp = trials.stamp === d.stamp && front.stamp === d.stamp ? d.stamp : `stale:${trials.stamp}`;
      state.trials = trials.trials;
      state.front = front;
      renderHv(d);
      renderFront();
      renderDesign();
      renderTable();
    },
    fail(err) {
      if (first) app.replaceChildren(el('h1', {}, name), el('p', { class: 'error' }, err.message));
    },
    destroy: destroyCharts,
  };
}

// ---- one trial ----

function trialView(app, name, idText) {
  crumbs(el('a', { href: '#/' }, 'sweeps'), el('a', { href: sweepHref(name) }, name), `trial ${idText}`);
  const charts = [];
  let lastKey = null;
  const destroy = () => {
    while (charts.length) charts.pop().destroy();
  };

  function curve(box, titleText, epochs, series) {
    const u = new uPlot(
      {
        width: chartWidth(box),
        height: 240,
        title: titleText,
        scales: { x: { time: false } },
        series: [{ label: 'epoch' }, ...series.map(([label, color]) => ({ label, stroke: color, width: 2, spanGaps: true, points: { show: true, size: 5 } }))],
        axes: [{ label: 'epoch' }, { size: 60 }],
      },
      [epochs.map((e) => e.epoch), ...series.map(([, , get]) => epochs.map((e) => { const v = get(e); return Number.isFinite(v) ? v : null; }))],
      box,
    );
    charts.push(u);
  }

  function fact(k, v) {
    return [el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? '—' : v)];
  }

  return {
    async refresh() {
      const { trial: t, epochs } = await api(`/api/sweeps/${enc(name)}/trials/${enc(idText)}`);
      const key = `${t.state}:${epochs.length}:${t.finishedAt}`;
      if (key === lastKey) return;
      lastKey = key;
      destroy();
      const lossBox = el('div', { class: 'chart curve', id: 'loss-curve' });
      const accBox = el('div', { class: 'chart curve', id: 'accuracy-curve' });
      const prov = t.provenance ?? {};
      app.replaceChildren(
        el('h1', { id: 'trial-title' }, `Trial ${t.id}: `, el('span', { class: 'trial-label' }, t.label), ' ', stateBadge(t.state)),
        el(
          'div',
          { class: 'grid2' },
          el('section', { class: 'card', id: 'trial-facts' }, el('h2', {}, 'Result'),
            el('dl', { class: 'facts' },
              fact('state', t.state), fact('accuracy', pct(t.accuracy)), fact('test loss', t.testLoss?.toFixed?.(4)),
              fact('train loss', t.trainLoss?.toFixed?.(4)), fact('train accuracy', pct(t.trainAccuracy)),
              fact('MACs', fmtCount(t.macs)), fact('params', fmtCount(t.params)), fact('FLOPs', fmtCount(t.flops)),
              fact('epochs', t.epochs), fact('rung', t.rung), fact('round', t.round), fact('seed', t.seed),
              fact('device', t.device), fact('time', t.seconds === null ? null : `${secs(t.seconds)} s`),
              fact('images/s', t.imagesPerSecond === null || t.imagesPerSecond === undefined ? null : Math.round(t.imagesPerSecond)),
              fact('worker', t.workerId), fact('attempts', t.attempts), fact('reused from', t.reusedFrom),
              fact('queued', when(t.queuedAt)), fact('started', when(t.startedAt)), fact('finished', when(t.finishedAt)),
              fact('error', t.error ? el('span', { class: 'error' }, t.error) : null))),
          el('section', { class: 'card', id: 'trial-slots' }, el('h2', {}, 'Per-slot settings'),
            el('table', {}, el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'slot'), el('th', {}, 'variant'))),
              el('tbody', {}, t.variants.map((v, i) => el('tr', {}, el('td', { class: 'num' }, i), el('td', {}, variantText(v))))))),
        ),
        el('section', { class: 'card', id: 'curves', dataset: { epochs: String(epochs.length) } }, el('h2', {}, 'Learning curves'),
          epochs.length === 0 ? el('p', { class: 'muted' }, 'no epoch metrics recorded (yet)') : el('div', { class: 'grid2' }, lossBox, accBox)),
        el('section', { class: 'card', id: 'provenance' }, el('h2', {}, 'Provenance'),
          el('dl', { class: 'facts' }, fact('candidate hash', t.candidateHash), fact('recipe hash', t.recipeHash),
            Object.entries(prov).map(([k, v]) => fact(k, typeof v === 'object' && v !== null ? el('pre', {}, JSON.stringify(v, null, 2)) : String(v))))),
      );
      if (epochs.length > 0) {
        curve(lossBox, 'loss', epochs, [['train loss', '#c8324a', (e) => e.trainLoss], ['test loss', '#2456a6', (e) => e.testLoss]]);
        curve(accBox, 'accuracy', epochs, [['train accuracy', '#c8324a', (e) => e.trainAccuracy], ['test accuracy', '#2456a6', (e) => e.testAccuracy]]);
      }
    },
    fail(err) {
      app.replaceChildren(el('h1', {}, `trial ${idText}`), el('p', { class: 'error' }, err.message));
    },
    destroy,
  };
}

function variantText(v) {
  if (v.kind === 'dw-scc') return `dw-scc:cg=${v.cg},s=${v.s}${v.co !== undefined ? `,co=${v.co}` : ''}`;
  if (v.kind === 'dw-gpw') return `dw-gpw:cg=${v.cg}`;
  if (v.kind === 'gc-shuffle') return `gc-shuffle:g=${v.g}`;
  return v.kind;
}
