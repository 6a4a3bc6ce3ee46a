// The dashboard's HTTP server (fastify): a JSON API over a store opened read-only, the
// page from src/serve/static/, its script from dist/web/ (bundled from src/serve/client by
// `npm run build:web`) and the charting library from node_modules/uplot. Only GET and
// HEAD; with a token, every request must carry it (query ?token=, a Bearer header, or the
// cookie set when the page was opened with ?token=). Errors answer JSON, never a stack.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import {
  ApiParamError,
  parseEmptyQuery,
  parseFrontQuery,
  parseTrialId,
  parseTrialsQuery,
} from '../config/serve.js';
import type { SweepRow } from '../domain/rows.js';
import type { StoreReader } from '../store/types.js';
import { resolveSweep, SweepNotFound } from '../store/resolve.js';
import { SweepCache } from './cache.js';
import {
  frontCosts,
  frontView,
  scoreFront,
  shownCandidates,
  sweepDetail,
  sweepListItem,
  trialListItem,
  type FrontAnswer,
  type SweepLive,
  type SweepsAnswer,
  type TrialAnswer,
  type TrialsAnswer,
} from './views.js';
import { configuredObjectives } from '../pareto/objectives.js';
import { sweepEtaSeconds } from '../report/sweep-eta.js';

/** The page's folder, beside this module's source: src/serve/static from both src/serve
 * (tsx) and dist/serve (the build), so the published package serves the same files. */
export const STATIC_ROOT = fileURLToPath(new URL('../../src/serve/static/', import.meta.url));
/** The page's script, bundled by `npm run build:web` (part of `npm run build`, so of
 * `npm ci`): dist/web from both src/serve and dist/serve. */
export const SCRIPT_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));
const SCRIPT_FILES = ['app.js', 'app.js.map'];
const UPLOT_DIST = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const VENDOR_FILES = new Set(['/uPlot.iife.min.js', '/uPlot.min.css']);

const TOKEN_COOKIE = 'dsxplore_token';
const WARM_SWEEPS = 3;

// Nothing inline, nothing from elsewhere: a string from the store that slipped into markup
// still could not run.
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export interface ServerOptions {
  store: StoreReader;
  /** when set, required of every request */
  token?: string;
}

class NotFound extends Error {
  statusCode = 404;
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** The query without `token` (which the auth hook has already read). */
function queryOf(req: FastifyRequest): Record<string, unknown> {
  const { token: _token, ...rest } = (req.query ?? {}) as Record<string, unknown>;
  return rest;
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { store, token } = opts;
  const app = Fastify({ logger: false, exposeHeadRoutes: true, return503OnClosing: true });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply.header('allow', 'GET, HEAD');
      return reply.code(405).send({ error: `method ${req.method} not allowed; this server is read-only (GET, HEAD)` });
    }
    if (token === undefined) return;
    const q = (req.query ?? {}) as Record<string, unknown>;
    const fromQuery = typeof q.token === 'string' ? q.token : undefined;
    const auth = req.headers.authorization;
    const fromHeader = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (sameSecret(fromQuery, token)) {
      // the page's scripts and API calls then authenticate by cookie
      reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`);
      return;
    }
    if (sameSecret(fromHeader, token) || sameSecret(cookieToken(req), token)) return;
    return reply.code(401).send({ error: 'a token is required: open the URL dsxplore serve printed (…?token=T)' });
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof ApiParamError) return reply.code(400).send({ error: err.message });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    // a path the static handler refused (outside its folder) is simply not there
    if (status === 403) return reply.code(404).send({ error: 'not found' });
    if (status === 500) {
      process.stderr.write(`dsxplore serve: ${err.message}\n`);
      if (process.env.DSXPLORE_DEBUG) process.stderr.write(`${err.stack}\n`);
      return reply.code(500).send({ error: 'internal error reading the store (the server log says more)' });
    }
    return reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));

  app.register(fastifyStatic, { root: STATIC_ROOT, prefix: '/', index: 'index.html', dotfiles: 'deny' });
  if (!existsSync(join(SCRIPT_ROOT, SCRIPT_FILES[0]!))) {
    process.stderr.write(`dsxplore serve: the page's script ${join(SCRIPT_ROOT, SCRIPT_FILES[0]!)} is not built; run npm run build:web\n`);
  }
  for (const file of SCRIPT_FILES) app.get(`/${file}`, (_req, reply) => reply.sendFile(file, SCRIPT_ROOT));
  app.register(fastifyStatic, {
    root: UPLOT_DIST,
    prefix: '/vendor/uplot/',
    decorateReply: false,
    allowedPath: (path) => VENDOR_FILES.has(path),
  });

  const sweepOr404 = async (name: string): Promise<SweepRow> => {
    try {
      return await resolveSweep(store, name);
    } catch (err) {
      if (err instanceof SweepNotFound) throw new NotFound(err.message);
      throw err;
    }
  };
  const cache = new SweepCache(store);
  // read the most recent sweeps once the server listens, so a first visit finds them ready
  app.addHook('onReady', async () => {
    setImmediate(async () => {
      try {
        for (const s of (await store.listSweeps()).slice(-WARM_SWEEPS).reverse()) await cache.get(s);
      } catch {
        // closed before it finished, or the store is unreachable: requests will say so
      }
    });
  });
  const json = (reply: FastifyReply, body: string) => reply.type('application/json; charset=utf-8').send(body);

  app.get('/api/sweeps', async (req): Promise<SweepsAnswer> => {
    parseEmptyQuery(queryOf(req));
    const sweeps = await store.listSweeps();
    const items = [];
    for (const s of sweeps) items.push(sweepListItem(s, await store.counts(s.name)));
    return { sweeps: items.reverse() };
  });

  app.get<{ Params: { name: string } }>('/api/sweeps/:name', async (req, reply) => {
    parseEmptyQuery(queryOf(req));
    const e = await cache.get(await sweepOr404(req.params.name));
    const detail = await e.memo('detail', () =>
      JSON.stringify(sweepDetail(e.sweep, e.trials, e.counts, configuredObjectives(e.sweep.config))).slice(0, -1),
    );
    const live: SweepLive = { eta: sweepEtaSeconds(e.trials), stamp: e.stamp };
    return json(reply, `${detail},${JSON.stringify(live).slice(1)}`);
  });

  app.get<{ Params: { name: string } }>('/api/sweeps/:name/trials', async (req, reply) => {
    const { state } = parseTrialsQuery(queryOf(req));
    const e = await cache.get(await sweepOr404(req.params.name));
    return json(
      reply,
      await e.memo(`trials:${state ?? ''}`, () => {
        const answer: TrialsAnswer = {
          sweep: e.sweep.name,
          stamp: e.stamp,
          trials: e.trials.filter((t) => state === undefined || t.state === state).map(trialListItem),
        };
        return JSON.stringify(answer);
      }),
    );
  });

  app.get<{ Params: { name: string } }>('/api/sweeps/:name/front', async (req, reply) => {
    const { x } = parseFrontQuery(queryOf(req));
    const e = await cache.get(await sweepOr404(req.params.name));
    if (!frontCosts(e.trials).includes(x)) {
      throw new ApiParamError(
        `query.x: sweep ${JSON.stringify(e.sweep.name)} measured no latency (a sweep measures it with "latency" among its objectives); ` +
          `allowed values here: ${frontCosts(e.trials).join(', ')}`,
      );
    }
    const body = await e.memo(`front:${x}`, async () => {
      const f = scoreFront(e.trials, x);
      // per-slot variants for the few candidates shown with their design, not for every one
      const variants = await store.candidateVariants(shownCandidates(f));
      const answer: FrontAnswer = { sweep: e.sweep.name, stamp: e.stamp, ...frontView(f, variants) };
      return JSON.stringify(answer);
    });
    return json(reply, body);
  });

  app.get<{ Params: { name: string; id: string } }>('/api/sweeps/:name/trials/:id', async (req): Promise<TrialAnswer> => {
    parseEmptyQuery(queryOf(req));
    const id = parseTrialId(req.params.id);
    const sweep = await sweepOr404(req.params.name);
    // the whole row, provenance included (the cached listing leaves it out)
    const trial = await store.trial(id);
    if (!trial || trial.sweep !== sweep.name) throw new NotFound(`sweep ${JSON.stringify(sweep.name)} has no trial ${id}`);
    return { sweep: sweep.name, trial, epochs: await store.epochMetrics(id) };
  });

  return app;
}

export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port/ (with ?token=T when a token is required) */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listen on host:port (0: any free port) and say where. */
export async function startServer(opts: ServerOptions & { host: string; port: number }): Promise<RunningServer> {
  const app = buildServer(opts);
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}/${opts.token ? `?token=${encodeURIComponent(opts.token)}` : ''}`;
  return { app, url, port, close: () => app.close() };
}
