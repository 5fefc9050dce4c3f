import type { Trajectory, TrajectoryGroup } from '@toolgym/protocol';
import { episodePassed } from './episode-outcome.ts';
import { parseErrorCount } from './parse-errors.ts';

export interface EvalSummary {
  tasks: number;
  episodes: number;
  /** Mean over tasks of the share of passing episodes. */
  passAt1: number;
  /** Unbiased pass@k for k = 1 … group size (Chen et al. 2021), by k. */
  passAtK: Record<number, number>;
  /** Mean total reward over episodes that did not fail. */
  meanReward: number;
  /** Mean of each reward component over episodes that did not fail. */
  meanComponents: Record<string, number>;
  meanTurns: number;
  /** Mean tokens per episode (exact-token trajectories only; 0 for text-only). */
  meanTokens: number;
  meanSampledTokens: number;
  toolCalls: number;
  /** Tool results the environment flagged as errors (bad arguments, unknown tools, tool failures). */
  toolErrors: number;
  /** Calls the agent could not read (bad JSON, …). */
  parseErrors: number;
  byStatus: Record<string, number>;
  truncations: Record<string, number>;
  /** Failed episodes by reason code. Failed episodes never count as passed. */
  failures: Record<string, number>;
  /** One example message per failure code. */
  failureExamples: Record<string, string>;
  tokenization: Record<string, number>;
  episodesPerSecond?: number;
}

/**
 * pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k), computed as a stable product
 * (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new RangeError(`pass@${k} needs at least ${k} samples per task (got ${n})`);
  if (n - c < k) return 1;
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

/** Mean of each reward component over `trajectories`, by name (0 for an episode without it). */
export function meanComponents(trajectories: readonly Trajectory[]): Record<string, number> {
  const names = [...new Set(trajectories.flatMap((t) => Object.keys(t.reward.components)))].sort();
  const n = Math.max(1, trajectories.length);
  return Object.fromEntries(
    names.map((name) => [name, trajectories.reduce((a, t) => a + (t.reward.components[name] ?? 0), 0) / n]),
  );
}

export function summarizeEval(
  groups: readonly TrajectoryGroup[],
  /** How success is decided (see `episodePassed`). */
  passOptions: { component?: string; rewardRange?: readonly [number, number] } = {},
  ms?: number,
): EvalSummary {
  const all: Trajectory[] = groups.flatMap((g) => g.trajectories);
  const ok = all.filter((t) => t.status !== 'failed');
  const mean = (values: number[]) =>
    values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
  const count = (keys: Array<string | undefined>) => {
    const out: Record<string, number> = {};
    for (const key of keys) if (key !== undefined) out[key] = (out[key] ?? 0) + 1;
    return out;
  };
  const minGroup = groups.length === 0 ? 0 : Math.min(...groups.map((g) => g.trajectories.length));
  const passAtKs: Record<number, number> = {};
  for (let k = 1; k <= minGroup; k++) {
    passAtKs[k] = mean(
      groups.map((g) =>
        passAtK(g.trajectories.length, g.trajectories.filter((t) => episodePassed(t, passOptions)).length, k),
      ),
    );
  }
  const failureExamples: Record<string, string> = {};
  for (const t of all)
    if (t.failure && !(t.failure.code in failureExamples))
      failureExamples[t.failure.code] = t.failure.message;
  return {
    tasks: groups.length,
    episodes: all.length,
    passAt1: passAtKs[1] ?? 0,
    passAtK: passAtKs,
    meanReward: mean(ok.map((t) => t.reward.total)),
    meanComponents: meanComponents(ok),
    meanTurns: mean(all.map((t) => t.turns.length)),
    meanTokens: mean(all.map((t) => t.tokens.length)),
    meanSampledTokens: mean(all.map((t) => t.lossMask.reduce<number>((a, b) => a + b, 0))),
    toolCalls: all.reduce((s, t) => s + t.turns.reduce((u, turn) => u + turn.toolCalls.length, 0), 0),
    toolErrors: all.reduce(
      (s, t) => s + t.turns.reduce((u, turn) => u + turn.toolResults.filter((r) => r.isError).length, 0),
      0,
    ),
    parseErrors: all.reduce((s, t) => s + parseErrorCount(t), 0),
    byStatus: count(all.map((t) => t.status)),
    truncations: count(all.map((t) => t.truncation)),
    failures: count(all.map((t) => t.failure?.code)),
    failureExamples,
    tokenization: count(all.map((t) => t.tokenization)),
    ...(ms !== undefined && ms > 0 ? { episodesPerSecond: all.length / (ms / 1000) } : {}),
  };
}

/**
 * One summary per key: a task's groups count under every key `keysOf` gives its task (a split, the
 * held-out units it exercises); tasks with no key are left out. Keys in order of first appearance.
 */
export function summarizeEvalBy(
  groups: readonly TrajectoryGroup[],
  keysOf: (taskId: string) => readonly string[],
  passOptions: { component?: string; rewardRange?: readonly [number, number] } = {},
): Record<string, EvalSummary> {
  const byKey = new Map<string, TrajectoryGroup[]>();
  for (const group of groups)
    for (const key of keysOf(group.taskId)) byKey.set(key, [...(byKey.get(key) ?? []), group]);
  return Object.fromEntries([...byKey].map(([key, own]) => [key, summarizeEval(own, passOptions)]));
}

/** The summary as a few lines for a terminal. */
export function formatEvalSummary(summary: EvalSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const kv = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`)
      .join(', ') || '-';
  const lines = [
    `tasks ${summary.tasks}, episodes ${summary.episodes}${summary.episodesPerSecond ? ` (${summary.episodesPerSecond.toFixed(2)} ep/s)` : ''}`,
    `pass@1 ${pct(summary.passAt1)}  ${Object.entries(summary.passAtK)
      .filter(([k]) => k !== '1')
      .map(([k, v]) => `pass@${k} ${pct(v)}`)
      .join('  ')}`.trimEnd(),
    `reward mean ${summary.meanReward.toFixed(3)}  components: ${kv(summary.meanComponents)}`,
    `turns mean ${summary.meanTurns.toFixed(2)}  tokens mean ${summary.meanTokens.toFixed(1)} (sampled ${summary.meanSampledTokens.toFixed(1)})  tokenization: ${kv(summary.tokenization)}`,
    `tool calls ${summary.toolCalls}  tool errors ${summary.toolErrors}  parse errors ${summary.parseErrors}`,
    `status: ${kv(summary.byStatus)}  truncated by: ${kv(summary.truncations)}`,
    `failures by reason: ${kv(summary.failures)}`,
    ...Object.entries(summary.failureExamples).map(
      ([code, message]) => `  ${code}: ${message.split('\n')[0]?.slice(0, 200)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
