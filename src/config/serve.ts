// What `dsxplore serve` accepts: its command-line options and the query parameters of the
// dashboard's JSON API. Validated here so the server handles plain, trusted values; a bad
// option is a UsageError (exit 2), a bad API parameter a 400 with the same one-line message.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { formatIssues, pathString } from '../issues.js';
import { TRIAL_STATES } from '../domain/trial-states.js';

/** Costs the front can be drawn against (accuracy is always the other axis); latency only
 * for a sweep that measured it (objective "latency"). */
export const FRONT_COSTS = ['macs', 'params', 'latency'] as const;
export type FrontCost = (typeof FRONT_COSTS)[number];

export interface ServeOptions {
  host: string;
  port: number;
  /** required of every request; set whenever the host is not a loopback address */
  token?: string;
  /** true when the token was generated here (the URL printed must then carry it) */
  tokenGenerated: boolean;
  open: boolean;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** The options of a server from its checked flags (src/config/flags.ts): a non-loopback
 * host gets a generated token unless given one. */
export function parseServeOptions(flags: { host: string; port?: number; token?: string; open?: boolean }): ServeOptions {
  const o = { port: 8080, open: false, ...flags };
  if (o.token === undefined && !isLoopbackHost(o.host)) {
    return { ...o, token: randomBytes(18).toString('base64url'), tokenGenerated: true };
  }
  return { ...o, tokenGenerated: false };
}

// ---- the JSON API's parameters (the `token` query parameter is taken off before these) ----

export class ApiParamError extends Error {
  override name = 'ApiParamError';
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown, where: string): T {
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    throw new ApiParamError(
      formatIssues(parsed.error, {
        at: (path) => pathString(path, where),
        unknown: (keys) => `${where}: unknown parameter ${keys.map((k) => JSON.stringify(k)).join(', ')}`,
      }),
    );
  }
  return parsed.data;
}

const frontQuerySchema = z
  .object({ x: z.enum(FRONT_COSTS, { message: `allowed values: ${FRONT_COSTS.join(', ')}` }).default('macs') })
  .strict();
const trialsQuerySchema = z
  .object({ state: z.enum(TRIAL_STATES, { message: `allowed values: ${TRIAL_STATES.join(', ')}` }).optional() })
  .strict();
const emptyQuerySchema = z.object({}).strict();
const trialIdSchema = z.string().regex(/^[1-9]\d{0,14}$/, 'must be a positive whole number').transform(Number);

export const parseFrontQuery = (q: unknown): { x: FrontCost } => parseWith(frontQuerySchema, q, 'query');
export const parseTrialsQuery = (q: unknown): { state?: (typeof TRIAL_STATES)[number] } =>
  parseWith(trialsQuerySchema, q, 'query');
export const parseEmptyQuery = (q: unknown): void => void parseWith(emptyQuerySchema, q, 'query');
export const parseTrialId = (id: unknown): number => parseWith(trialIdSchema, id, 'trial id');
