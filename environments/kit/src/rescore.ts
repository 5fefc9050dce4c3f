import type { RewardBreakdown, Trajectory } from '@toolgym/protocol';
import type { Environment } from './episode.ts';

/** One stored episode graded again. */
export interface Rescored {
  trajectoryId: string;
  taskId: string;
  /** The reward stored with the trajectory. */
  before: RewardBreakdown;
  /** The reward the environment's current grader gives the same calls. */
  after: RewardBreakdown;
  /**
   * Calls whose output now differs from the stored one: the environment did not replay the
   * episode as it was played (it is not deterministic, or its tools changed), so `after` grades
   * another episode.
   */
  diverged: number;
}

/**
 * Plays a stored trajectory's tool calls again, in order and with their turn markers, in a fresh
 * episode of the same task and seed, then grades it with the environment's current grader (and the
 * final text the agent loop graded, when the last turn made no call). For deterministic
 * environments this is the same episode, so a changed reward is the grader's change alone.
 */
export async function rescoreTrajectory(environment: Environment, trajectory: Trajectory): Promise<Rescored> {
  const episode = await environment.openEpisode({ taskId: trajectory.taskId, seed: trajectory.seed });
  let diverged = 0;
  try {
    for (const turn of trajectory.turns) {
      for (const [i, call] of turn.toolCalls.entries()) {
        const outcome = await episode.callTool(call.name, call.arguments, { turn: turn.index });
        if (outcome.content !== turn.toolResults[i]?.content) diverged++;
      }
    }
  } catch (error) {
    await episode.close();
    throw error;
  }
  // The agent loop grades the last turn's text when it made no call and no unreadable one.
  const last = trajectory.turns.at(-1);
  const finalText = last && last.toolCalls.length === 0 && last.parseErrors.length === 0 ? last.text : undefined;
  const { reward } = await episode.end(finalText);
  return { trajectoryId: trajectory.id, taskId: trajectory.taskId, before: trajectory.reward, after: reward, diverged };
}

/** Per component (and `total`): mean before and after, and how many episodes it changed in. */
export interface RescoreSummary {
  episodes: number;
  /** Episodes whose total or any component changed. */
  changed: number;
  diverged: number;
  components: Array<{ name: string; before: number; after: number; changed: number }>;
}

/** Values closer than this are the same (sums of weights in floating point). */
const EPSILON = 1e-9;

export function summarizeRescores(rescored: readonly Rescored[]): RescoreSummary {
  const names = [...new Set(rescored.flatMap((r) => [...Object.keys(r.before.components), ...Object.keys(r.after.components)]))];
  const componentOf = (reward: RewardBreakdown, name: string) => (name === 'total' ? reward.total : (reward.components[name] ?? 0));
  const components = ['total', ...names].map((name) => ({
    name,
    before: mean(rescored.map((r) => componentOf(r.before, name))),
    after: mean(rescored.map((r) => componentOf(r.after, name))),
    changed: rescored.filter((r) => Math.abs(componentOf(r.before, name) - componentOf(r.after, name)) > EPSILON).length,
  }));
  const changed = rescored.filter((r) =>
    ['total', ...names].some((name) => Math.abs(componentOf(r.before, name) - componentOf(r.after, name)) > EPSILON),
  ).length;
  return { episodes: rescored.length, changed, diverged: rescored.filter((r) => r.diverged > 0).length, components };
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
