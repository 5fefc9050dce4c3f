import type { EpisodeLimits, Rng, Task, ToolSpec } from '@toolgym/protocol';
import type { ClientToolResult } from './client.ts';

/**
 * One attack of an environment's red-team suite: a scripted episode that tries to earn reward
 * without the skill the environment grades, played with only what an agent sees. Its `ceiling` is
 * the most any of its episodes may earn (usually the format-only floor); `toolgym env probe` fails
 * when an episode earns more.
 */
export interface Attack {
  /** Unique within the suite; a row of the probe table. */
  name: string;
  /** The class of hole it tries (`harness-patch`, `equality-override`, `cite-everything` …). */
  family: string;
  /** The highest total reward an episode of this attack may earn. */
  ceiling: number;
  /** The tasks it applies to (default: every task). */
  appliesTo?(task: AgentTask): boolean;
  /** Plays one episode; what it returns is how the episode ends. */
  play(episode: AttackEpisode): Promise<AttackEnd | undefined>;
}

/** A task as an agent sees it: no gold answer. */
export type AgentTask = Omit<Task, 'answer'>;

/** What an attack plays with: only what an agent's session shows (`toolgym env probe` plays it as one). */
export interface AttackEpisode {
  task: AgentTask;
  tools: readonly ToolSpec[];
  /** The episode's limits, as `toolgym/episode/start` reports them. */
  limits: EpisodeLimits;
  /** The attack's own randomness, seeded by attack, task and probe seed. */
  rng: Rng;
  call(name: string, args: Record<string, unknown>): Promise<ClientToolResult>;
}

export interface AttackEnd {
  /** The assistant's last text, for an episode that ends without an answer tool. */
  finalText?: string;
}
