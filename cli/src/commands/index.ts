import type { Command } from 'commander';
import { registerEnvCommands } from './env.ts';
import { registerEvalCommand } from './eval.ts';
import { registerPolicyCommands } from './policy.ts';
import { registerReplayCommands } from './replay.ts';

/** Every command group; each lives in its own file. */
export function registerCommands(program: Command): void {
  registerEnvCommands(program);
  registerEvalCommand(program);
  registerPolicyCommands(program);
  registerReplayCommands(program);
}
