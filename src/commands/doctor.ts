// placeholder: replaced by the module that owns this command
import type { Command } from 'commander';

export function registerDoctor(_program: Command): void {}
