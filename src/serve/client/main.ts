// The dashboard page: a list of sweeps, one sweep (progress, front, design map, trials) and
// one trial (curves, slots, provenance), routed by the URL's hash and refreshed by polling
// the JSON API every second. Bundled by `npm run build:web` into dist/web/app.js.
import { appRoot, el, setLive } from './dom.js';
import { sweepPage } from './sweep-page.js';
import { sweepsPage } from './sweeps-page.js';
import { trialPage } from './trial-page.js';
import type { View } from './view.js';

const POLL_MS = 1000;

let view: View | null = null;
let busy = false;

/** The view the hash names: #/, #/sweep/NAME, #/sweep/NAME/trial/ID. */
function route(): void {
  const h = location.hash.replace(/^#/, '') || '/';
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  view?.destroy?.();
  view = null;
  const app = appRoot();
  app.replaceChildren(el('p', { class: 'muted' }, 'loading…'));
  let name: string | null = null;
  try {
    name = parts[0] === 'sweep' && parts[1] ? decodeURIComponent(parts[1]) : null;
  } catch {
    // a malformed %-sequence in a hand-typed URL: the unknown-page message below
  }
  if (name !== null) view = parts[2] === 'trial' && parts[3] ? trialPage(app, name, parts[3]) : sweepPage(app, name);
  else if (h === '/') view = sweepsPage(app);
  else app.replaceChildren(el('p', { class: 'error' }, 'unknown page; '), el('a', { href: '#/' }, 'back to the sweeps'));
  void tick();
}

async function tick(): Promise<void> {
  if (busy || !view) return;
  busy = true;
  const current = view;
  try {
    await current.refresh();
    setLive(true);
  } catch (err) {
    if (current === view) current.fail(err instanceof Error ? err : new Error(String(err)));
    setLive(false);
  } finally {
    busy = false;
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  route();
  setInterval(tick, POLL_MS);
});
