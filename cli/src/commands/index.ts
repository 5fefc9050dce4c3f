import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every command group, by the command names it adds. Each lives in its own file and is imported
 * only when one of its commands runs (or for --help): groups pull in heavy packages (ONNX
 * Runtime, TF.js, SQLite), and `toolgym env serve` is spawned once per stdio episode.
 */
const GROUPS: Array<{ commands: string[]; load: () => Promise<Register> }> = [
  { commands: ['envs', 'env'], load: async () => (await import('./env.ts')).registerEnvCommands },
  { commands: ['eval'], load: async () => (await import('./eval.ts')).registerEvalCommand },
  { commands: ['rescore'], load: async () => (await import('./rescore.ts')).registerRescoreCommand },
  { commands: ['policy'], load: async () => (await import('./policy.ts')).registerPolicyCommands },
  { commands: ['replay'], load: async () => (await import('./replay.ts')).registerReplayCommands },
  { commands: ['train'], load: async () => (await import('./train.ts')).registerTrainCommand },
  { commands: ['learner'], load: async () => (await import('./learner.ts')).registerLearnerCommands },
];

export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const invoked = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const wanted = GROUPS.filter((g) => invoked !== undefined && g.commands.includes(invoked));
  for (const group of wanted.length > 0 ? wanted : GROUPS) (await group.load())(program);
}
