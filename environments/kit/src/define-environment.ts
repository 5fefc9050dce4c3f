import type { ChatTextModel, EpisodeLimits, RewardBreakdown, Task, ToolSpec, Truncation } from '@toolgym/protocol';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import type { Rng } from '@toolgym/protocol';
import type { Attack } from './redteam.ts';
import type { FeedbackOptions } from './feedback.ts';

/**
 * What a tool may return: text for the model, or text with an explicit error flag. `terminate`
 * ends the episode with that answer, as `episode.terminate(answer)` does; it is how a pure tool
 * (which never sees the episode) gives the answer.
 */
export type ToolOutput = string | { text: string; isError?: boolean; terminate?: { answer?: unknown } };

/** The live episode a tool runs in. */
export interface EpisodeContext<State, Config> {
  readonly id: string;
  readonly task: Task;
  readonly config: Config;
  readonly seed: number;
  /** The shared match this episode joined as its task's seat (`toolgym/episode/start`), if any. */
  readonly match?: string;
  /** Seeded per episode: same task + seed → same stream. */
  readonly rng: Rng;
  readonly state: State;
  /** Tool calls so far, in order (including failed ones). */
  readonly calls: readonly ToolCallRecord[];
  /** Mark the episode ended by the task itself (an answer was given). Later tool calls are refused. */
  terminate(answer?: unknown): void;
  readonly terminated: boolean;
  /** Which episode limit cut the episode short, if one did (`max_turns`, `max_tool_calls`, `time_limit`). */
  readonly truncation: Truncation | undefined;
  /** What `terminate` was given, for `grade`. */
  readonly answer: unknown;
}

export interface ToolCallRecord {
  name: string;
  arguments: unknown;
  isError: boolean;
  errorCode?: string;
  output: string;
  ms: number;
}

export interface ToolContext<State, Config> {
  /**
   * The episode, for this call only: once the call is stopped (past its deadline) every use of it,
   * or of the top level of its state, throws, so late work cannot change the episode. After an
   * await, reach the state through it again rather than through an object read before the await.
   */
  episode: EpisodeContext<State, Config>;
  /** Aborted when the call exceeds the tool timeout or the episode closes. Long tools must honour it. */
  signal: AbortSignal;
}

export interface ToolDefinition<State, Config, Input extends z.ZodType = z.ZodType> {
  description: string;
  /** The one declaration of the arguments: validation and the JSON Schema the agent sees. */
  input: Input;
  /**
   * A pure tool's result depends on its arguments alone: `run` gets no context, and ends an
   * episode only through `terminate` in its output. It runs in a tool worker, which is terminated
   * at the tool's timeout, so a pure tool may compute for as long as `toolTimeoutMs`. Any other
   * tool runs on the event loop, where its synchronous code may take at most `syncBudgetMs`.
   */
  pure?: boolean;
  run(args: z.infer<Input>, ctx: ToolContext<State, Config>): ToolOutput | Promise<ToolOutput>;
  /** Overrides the environment's tool timeout for this tool. */
  timeoutMs?: number;
  /**
   * Whether a config offers this tool (default: every config does). A tool it does not offer is
   * neither listed nor callable (`unknown_tool`), so the agent never sees a tool it may not use.
   */
  offeredBy?(config: Config): boolean;
}

/** Everything `grade` can look at. */
export interface GradeInput<State, Config> {
  episode: EpisodeContext<State, Config>;
  /** The assistant's last text when it ended without an answer tool. */
  finalText?: string;
}

export interface EnvironmentSpec<State, Config> {
  /** Registry name, lowercase (`compose`, `sql`). */
  id: string;
  version: number;
  description: string;
  /** Environment options with defaults; `make(id, options)` validates against it. */
  config: z.ZodType<Config>;
  /** The task set for a config: deterministic, each task already in its split. */
  tasks(config: Config): Task[] | Promise<Task[]>;
  tools: Record<string, ToolDefinition<State, Config>>;
  /**
   * Per-episode state (a database connection, a sandbox, a patient). `match` is the id of the
   * shared match the episode joins as its task's seat (`toolgym/episode/start`), for a task that
   * declares one (`TaskSeat`); without it the task's other seats are the environment's own players.
   * `progress` is how far the training run playing it is (0–1), absent outside training; `model`
   * the model the environment was given to call (`Environment.useModel`), if any.
   */
  setup(
    task: Task,
    ctx: {
      config: Config;
      seed: number;
      rng: Rng;
      signal: AbortSignal;
      match?: string;
      progress?: number;
      model?: ChatTextModel;
    },
  ): State | Promise<State>;
  /**
   * The prompt an episode starts with, when it depends on the episode (a dealt card, the opening
   * move of a player before it); by default the task's prompt. It may wait: a seat of a shared
   * match waits here for the seats that move before it.
   */
  prompt?(episode: EpisodeContext<State, Config>): string | Promise<string>;
  /** Releases what `setup` made. Called exactly once per episode, whatever happened. */
  teardown?(state: State): void | Promise<void>;
  /**
   * The episode's reward. With feedback (`withFeedback`) an answer is graded once, when it is
   * given (without `finalText`): a right one's grade is the episode's unless calls were made after it.
   */
  grade(input: GradeInput<State, Config>): RewardBreakdown | Promise<RewardBreakdown>;
  /** The interval every `total` falls in; the conformance check holds the environment to it. */
  rewardRange: [number, number];
  limits?: Partial<EpisodeLimits> | ((config: Config) => Partial<EpisodeLimits>);
  /** A scripted solution from the task's gold answer: the calls the `oracle` policy makes. */
  oracle?(task: Task, config: Config): Array<{ name: string; arguments: Record<string, unknown> }>;
  /**
   * What the `test` split holds out, so that passing it measures the skill rather than memory of
   * a seen unit. Every `test` task has at least one unit that no `train` task has.
   */
  heldOut?(config: Config): HeldOut;
  /** The red-team suite (loaded on demand): attacks that try to earn reward without the skill. */
  redteam?(config: Config): Promise<readonly Attack[]>;
  /**
   * The most an episode earns by form alone, without solving its task: well-formed calls, an
   * answer of the right shape (a format reward, a completion bonus). `toolgym env probe` holds
   * skill-free adversaries to it. Default: the lower end of `rewardRange`.
   */
  formatFloor?(config: Config): number;
  /**
   * The module this definition is exported from (`import.meta.url`), so pure tools can run in a
   * worker that imports it. Definitions loaded through the registry (workspace packages, a
   * user's file) have it recorded already.
   */
  module?: string;
  /**
   * What loading the config's data files kept, skipped and changed (asked after `tasks`), so
   * `toolgym env tasks` and `toolgym eval` print every record that did not load as written.
   */
  dataReport?(config: Config): readonly DataFileReport[] | Promise<readonly DataFileReport[]>;
  /**
   * Agent-RLVR's guidance after a failed attempt (with `feedback.guidance`): what the agent reads
   * before it tries again, from the grader's findings on the attempt (`reward`, trainer-only) and
   * the oracle. It is shown to the agent, so it may say no more than the environment means to
   * teach: never the gold answer, never a hidden test.
   */
  guidance?(input: GuidanceInput<State, Config>): string | Promise<string>;
  /** Re-attempts after a wrong answer; set by `withFeedback`, never by hand. */
  feedback?: FeedbackOptions;
}

/** What `guidance` sees: the episode at its failed attempt (its answer given) and that attempt's grade. */
export interface GuidanceInput<State, Config> {
  episode: EpisodeContext<State, Config>;
  reward: RewardBreakdown;
}

/** One data file an environment read: how many records, how many became tasks, and why the others did not. */
export interface DataFileReport {
  file: string;
  /** Records read (the lines of a JSONL file). */
  records: number;
  /** Records that became tasks. */
  loaded: number;
  /** Records skipped (`skipped`) or loaded with a change, with the reason; `line` is 1-based, absent for the whole file. */
  notices: Array<{ line?: number; skipped: boolean; message: string }>;
}

/** The unit of skill an environment's test split holds out, and which units each task has. */
export interface HeldOut {
  /** What a unit is: `template`, `question-type`, `database`, `family`, `case-family`, `function-pair` … */
  unit: string;
  /** The units a task exercises (a template id; the ordered function pairs of a chain). */
  unitsOf(task: Task): readonly string[];
}

/** Tool calls per assistant turn that `maxToolCalls` allows by default. */
const DEFAULT_CALLS_PER_TURN = 4;

export const DEFAULT_LIMITS: Omit<EpisodeLimits, 'maxToolCalls'> = {
  maxTurns: 8,
  toolTimeoutMs: 10_000,
  maxToolOutputBytes: 16_384,
  maxEpisodeMs: 30 * 60_000,
  syncBudgetMs: 250,
};

/** An environment definition, typed; the registry turns it into instances with `make`. */
export interface EnvironmentDefinition<State = unknown, Config = unknown> extends EnvironmentSpec<State, Config> {
  readonly ref: string;
  readonly toolSpecs: ToolSpec[];
  limitsFor(config: Config): EpisodeLimits;
  parseConfig(options: unknown): Config;
}

const ID_PATTERN = /^[a-z][a-z0-9-]*$/;
const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Declares an environment. Tools are declared once with zod; the JSON Schema the agent sees is
 * derived from the same declaration that validates the arguments.
 */
export function defineEnvironment<State, Config>(spec: EnvironmentSpec<State, Config>): EnvironmentDefinition<State, Config> {
  if (!ID_PATTERN.test(spec.id)) {
    throw new ConfigError(`environment id '${spec.id}' is not valid`, 'use lowercase letters, digits and dashes, starting with a letter');
  }
  if (!Number.isInteger(spec.version) || spec.version < 1) {
    throw new ConfigError(`environment '${spec.id}' has version ${spec.version}`, 'versions are whole numbers from 1');
  }
  const [lo, hi] = spec.rewardRange;
  if (!(lo <= hi)) throw new ConfigError(`environment '${spec.id}' has an empty reward range [${lo}, ${hi}]`);
  // Unknown argument keys are reported to the model (a misspelt key is a mistake it can fix),
  // and the JSON Schema says `additionalProperties: false`.
  const tools = Object.fromEntries(
    Object.entries(spec.tools).map(([name, tool]) => [name, tool.input instanceof z.ZodObject ? { ...tool, input: tool.input.strict() } : tool]),
  );
  const toolSpecs = Object.entries(tools).map(([name, tool]) => {
    if (!TOOL_NAME_PATTERN.test(name)) {
      throw new ConfigError(`tool name '${name}' of '${spec.id}' is not valid`, 'MCP tool names use letters, digits, _ and -');
    }
    return { name, description: tool.description, inputSchema: toolInputJsonSchema(tool.input) };
  });
  const definition: EnvironmentDefinition<State, Config> = {
    ...spec,
    tools,
    ref: `${spec.id}@${spec.version}`,
    toolSpecs,
    limitsFor(config) {
      const own = typeof spec.limits === 'function' ? spec.limits(config) : spec.limits;
      const limits = { ...DEFAULT_LIMITS, ...own };
      return { ...limits, maxToolCalls: own?.maxToolCalls ?? DEFAULT_CALLS_PER_TURN * limits.maxTurns };
    },
    parseConfig(options) {
      const parsed = spec.config.safeParse(options ?? {});
      if (!parsed.success) {
        throw new ConfigError(`invalid options for environment '${spec.id}': ${formatZodIssues(parsed.error)}`);
      }
      return parsed.data;
    },
  };
  if (spec.module) recordModule(definition, spec.module);
  return definition;
}

const modules = new WeakMap<object, string>();

/** Records the module a definition is exported from (the registry does, on loading it). */
export function recordModule(definition: object, url: string): void {
  if (!modules.has(definition)) modules.set(definition, url);
}

/** The module a definition is exported from, when known: where a tool worker imports it. */
export function moduleOf(definition: object): string | undefined {
  return modules.get(definition);
}

function toolInputJsonSchema(input: z.ZodType): Record<string, unknown> {
  const schema = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  if (schema.type !== 'object') {
    throw new ConfigError('a tool input must be a z.object(...)', 'MCP tool arguments are a JSON object');
  }
  return schema;
}

/** "`path.to.field`: expected number, received string" — one clause per issue. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length > 0 ? `'${issue.path.join('.')}'` : 'arguments';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}
