import type { Command } from 'commander';
import { registerEnvCommands } from './env.ts';

/** Every command group; each lives in its own file. */
export function registerCommands(program: Command): void {
  registerEnvCommands(program);
}
