// Building the page's DOM. Every string from the store reaches the page as text: el()
// appends text nodes and sets attributes, and nothing in the page assigns innerHTML.
import type { TrialState } from '../../domain/trial-states.js';

type Handlers = { [E in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[E]) => void };
type Attr = string | number | boolean | null | undefined;
/** class, data-* values, event listeners; any other key is an attribute (true: present,
 * false/null/undefined: absent). */
export type Props = { class?: string; dataset?: Record<string, string>; on?: Handlers } & {
  [attr: string]: Attr | Record<string, string> | Handlers;
};
export type Child = Node | string | number | null | undefined | false | readonly Child[];

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = String(v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') {
      for (const [type, listener] of Object.entries(v as Handlers)) e.addEventListener(type, listener as EventListener);
    } else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(parent: Node & ParentNode, children: readonly Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.append(c instanceof Node ? c : String(c));
  }
}

/** An element of the page's skeleton (src/serve/static/index.html). */
function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
}

export const appRoot = (): HTMLElement => byId('app');

export function crumbs(...parts: (Node | string)[]): void {
  byId('crumbs').replaceChildren(...parts.flatMap((p, i) => [i ? ' / ' : '', p]));
}

export function setLive(ok: boolean): void {
  const live = byId('live');
  live.classList.toggle('stale', !ok);
  live.textContent = ok ? 'live' : 'server unreachable';
}

export function stateBadge(state: TrialState): HTMLSpanElement {
  return el('span', { class: `state state-${state}` }, state);
}
