// Loads the native addon once. Everything native goes through this module, so a missing
// build is reported in one place, with the command that fixes it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AddonError } from '../errors.js';
import { packageRoot } from '../version.js';

/** Where the addon is looked for; DSXPLORE_ADDON overrides (e.g. a second build dir). */
export function addonPath(): string {
  return process.env.DSXPLORE_ADDON ?? join(packageRoot, 'build', 'Release', 'dsxplore.node');
}

// The addon's export table is typed by the modules that wrap it (engine/ops.ts, engine/net.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type NativeAddon = Record<string, any>;

let cached: NativeAddon | undefined;

export function addon(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new AddonError(
      `the native engine is not built (looked for ${path}).\n` +
        `Build it with:  npm run build:native   (needs cmake >= 3.18 and a C++17 compiler)`,
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new AddonError(
      `the native engine at ${path} failed to load: ${(err as Error).message}\n` +
        `Rebuild it with:  npm run build:native`,
    );
  }
  return cached;
}
