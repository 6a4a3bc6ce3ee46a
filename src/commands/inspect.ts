// placeholder: replaced by the module that owns this command
import type { Command } from 'commander';

export function registerInspect(_program: Command): void {}
