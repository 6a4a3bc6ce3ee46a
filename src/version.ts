// The package version, read once from package.json so results can record what produced them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './engine/addon.js';

export const version: string = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;
