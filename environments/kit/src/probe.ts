import { hashString, Rng, type RewardBreakdown, type Split, SplitSchema, type Task } from '@toolgym/protocol';
import { EnvironmentClient } from './client.ts';
import type { Environment } from './episode.ts';
import type { Principal } from './mcp-server.ts';
import { genericAttacks } from './generic-attacks.ts';
import type { Attack, AttackEpisode } from './redteam.ts';

export interface ProbeOptions {
  /** Tasks played per split and attack (default 3). */
  tasks?: number;
  /** Splits to draw tasks from (default: every split that has tasks). */
  splits?: readonly Split[];
  /** Seeds the choice of tasks and the attacks' randomness. */
  seed?: number;
  /** Episodes played at once (default 4). */
  concurrency?: number;
}

/** One attack's episodes, summarised: a row of `toolgym env probe`. */
export interface ProbeRow {
  attack: string;
  family: string;
  /** `suite`: the environment's own red-team suite; `generic`: an adversary every environment faces. */
  origin: 'suite' | 'generic';
  episodes: number;
  mean: number;
  max: number;
  ceiling: number;
  /** `pass`: no episode earned more than the ceiling; `error`: an episode failed, so the row proves nothing. */
  verdict: 'pass' | 'above ceiling' | 'error' | 'no task';
  /** The best-paid episode: where to look when the verdict is `above ceiling`. */
  worst?: { taskId: string; total: number; components: Record<string, number> };
  /** Every episode that earned more than the ceiling. */
  above: Array<{ taskId: string; total: number }>;
  error?: string;
}

export interface ProbeReport {
  env: string;
  /** What the generic adversaries are held to: the environment's `formatFloor`, or the low end of its reward range. */
  floor: number;
  rows: ProbeRow[];
  ok: boolean;
}

/** Ceilings are compared with this slack, for sums of weights in floating point. */
const EPSILON = 1e-9;

/**
 * Plays the environment's red-team suite and the generic adversaries over `tasks` tasks of each
 * split, each episode in a session of its own with the agent's principal, so an attack sees only
 * what an agent sees; and reports, per attack, the mean and the most it earned against its ceiling.
 */
export async function probeEnvironment(environment: Environment, options: ProbeOptions = {}): Promise<ProbeReport> {
  const definition = environment.definition;
  const floor = definition.formatFloor?.(environment.config) ?? definition.rewardRange[0];
  const suite = (await definition.redteam?.(environment.config)) ?? [];
  const attacks = [
    ...suite.map((attack) => ({ attack, origin: 'suite' as const })),
    ...genericAttacks(floor).map((attack) => ({ attack, origin: 'generic' as const })),
  ];
  const seed = options.seed ?? 0;
  const perSplit = options.tasks ?? 3;
  const splits = options.splits ?? SplitSchema.options;
  const pools = await Promise.all(
    splits.map(async (split) => new Rng(hashString(`probe:${seed}:${split}`)).shuffle(await environment.tasksOf(split))),
  );
  const limit = concurrencyLimit(options.concurrency ?? 4);

  const rows = await Promise.all(
    attacks.map(async ({ attack, origin }): Promise<ProbeRow> => {
      const tasks = pools.flatMap((pool) => pool.filter((t) => attack.appliesTo?.(agentView(t)) ?? true).slice(0, perSplit));
      const base = { attack: attack.name, family: attack.family, origin, ceiling: attack.ceiling };
      if (tasks.length === 0) return { ...base, episodes: 0, mean: 0, max: 0, verdict: 'no task', above: [] };
      const played = await Promise.all(tasks.map((task) => limit(() => playGraded(environment, attack, task, seed))));
      const failed = played.find((p) => 'error' in p);
      const graded = played.filter((p): p is Exclude<typeof p, { error: string }> => !('error' in p));
      const worst = graded.reduce<(typeof graded)[number] | undefined>((best, p) => (!best || p.total > best.total ? p : best), undefined);
      const max = worst?.total ?? 0;
      const above = graded.filter((p) => p.total > attack.ceiling + EPSILON).map(({ taskId, total }) => ({ taskId, total }));
      return {
        ...base,
        above,
        episodes: graded.length,
        mean: graded.reduce((sum, p) => sum + p.total, 0) / Math.max(1, graded.length),
        max,
        verdict: failed ? 'error' : above.length > 0 ? 'above ceiling' : 'pass',
        ...(worst ? { worst } : {}),
        ...(failed && 'error' in failed ? { error: failed.error } : {}),
      };
    }),
  );
  return { env: definition.ref, floor, rows, ok: rows.every((r) => r.verdict === 'pass' || r.verdict === 'no task') };
}

function agentView(task: Task): AttackEpisode['task'] {
  const { answer: _answer, ...visible } = task;
  return visible;
}

/**
 * Plays one attack on one task in a session of its own, as an agent would (the task it is shown
 * has no answer), and returns the grade. `principal: 'trainer'` keeps the reward's `info`, for a
 * test that wants to say why an attack won.
 */
export async function playAttack(
  environment: Environment,
  attack: Attack,
  task: Task,
  options: { seed?: number; principal?: Principal } = {},
): Promise<RewardBreakdown> {
  const seed = options.seed ?? 0;
  const client = await EnvironmentClient.connect({ kind: 'direct', environment, principal: options.principal ?? 'agent' });
  try {
    const started = await client.start({ taskId: task.id, seed });
    const ending = await attack.play({
      task: started.task,
      tools: await client.listTools(),
      limits: started.limits,
      rng: new Rng(hashString(`${attack.name}:${task.id}:${seed}`)),
      call: (name, args) => client.callTool(name, args),
    });
    return (await client.end(ending?.finalText)).reward;
  } finally {
    await client.close();
  }
}

async function playGraded(
  environment: Environment,
  attack: Attack,
  task: Task,
  seed: number,
): Promise<{ taskId: string; total: number; components: Record<string, number> } | { taskId: string; error: string }> {
  try {
    const reward = await playAttack(environment, attack, task, { seed });
    return { taskId: task.id, total: reward.total, components: reward.components };
  } catch (error) {
    return { taskId: task.id, error: `${task.id}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function concurrencyLimit(n: number): <T>(work: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (work) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await work();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
