// The JSON API as the page calls it, one function per route, typed with the answers the
// server builds (src/serve/views.ts), and the page's own addresses (hash routes).
import type { FrontCost } from '../../config/serve.js';
import type { FrontAnswer, SweepAnswer, SweepsAnswer, TrialAnswer, TrialsAnswer } from '../views.js';

// a page opened with ?token= also got a cookie; the header covers browsers that refuse it
const TOKEN = new URLSearchParams(location.search).get('token');

async function get<T>(path: string): Promise<T> {
  const headers: Record<string, string> = TOKEN ? { authorization: `Bearer ${TOKEN}` } : {};
  const r = await fetch(path, { headers, credentials: 'same-origin', cache: 'no-store' });
  const body = (await r.json().catch(() => ({ error: `HTTP ${r.status}` }))) as T & { error?: string };
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

const enc = encodeURIComponent;

export const api = {
  sweeps: () => get<SweepsAnswer>('/api/sweeps'),
  sweep: (name: string) => get<SweepAnswer>(`/api/sweeps/${enc(name)}`),
  trials: (name: string) => get<TrialsAnswer>(`/api/sweeps/${enc(name)}/trials`),
  front: (name: string, cost: FrontCost) => get<FrontAnswer>(`/api/sweeps/${enc(name)}/front?x=${cost}`),
  trial: (name: string, id: string) => get<TrialAnswer>(`/api/sweeps/${enc(name)}/trials/${enc(id)}`),
};

export const sweepHref = (name: string): string => `#/sweep/${enc(name)}`;
export const trialHref = (name: string, id: number): string => `#/sweep/${enc(name)}/trial/${id}`;
