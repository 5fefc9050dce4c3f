import type { ChatTextModel, EndResult, RewardBreakdown, EpisodeLimits, Split, StartParams, Task, ToolSpec, Truncation } from '@toolgym/protocol';
import { RewardBreakdownSchema, StartParamsSchema } from '@toolgym/protocol';
import type { DataFileReport, EnvironmentDefinition, EpisodeContext, ToolCallRecord, ToolOutput } from './define-environment.ts';
import { formatZodIssues, moduleOf } from './define-environment.ts';
import { EpisodeStateError, ToolError } from './errors.ts';
import { CallScope } from './call-scope.ts';
import { correctnessOf, type FailedAttempt, feedbackReward } from './feedback.ts';
import { hashString, Rng, taskSeatOf } from '@toolgym/protocol';
import { runWithinBudget } from './sync-budget.ts';
import { ToolDeadlineError, toolWorkerPool } from './tool-workers.ts';

/** What one tool call produced, as the agent sees it plus the episode's standing. */
export interface ToolCallOutcome {
  content: string;
  isError: boolean;
  /** Why it failed: `unknown_tool`, `invalid_arguments`, `tool_timeout`, `tool_failed`, `episode_ended`, `episode_over`, or a tool's own code. */
  errorCode?: string;
  truncated: boolean;
  terminated: boolean;
  ms: number;
}

/**
 * One environment with its options applied: the task set, the tools, and episodes. It is what
 * the MCP server serves and what in-process callers (tests, benches, the trainer) use directly.
 */
// biome-ignore lint/suspicious/noExplicitAny: an untyped Environment accepts every state and config type
export class Environment<State = any, Config = any> {
  readonly limits: EpisodeLimits;
  /** The tools this config offers, in declaration order. */
  readonly toolSpecs: ToolSpec[];
  private taskList?: Promise<Task[]>;
  private episodeCounter = 0;
  private modelValue?: ChatTextModel;

  constructor(
    readonly definition: EnvironmentDefinition<State, Config>,
    readonly config: Config,
  ) {
    this.limits = definition.limitsFor(config);
    this.toolSpecs = definition.toolSpecs.filter((spec) => this.offers(spec.name));
    // Pure tools run in tool workers: start them now rather than on the first call.
    const moduleUrl = moduleOf(definition);
    if (moduleUrl && Object.values(definition.tools).some((tool) => tool.pure)) toolWorkerPool(moduleUrl).warm();
  }

  get id(): string {
    return this.definition.id;
  }

  get ref(): string {
    return this.definition.ref;
  }

  /** Whether this config offers the tool `name` (declared, and not left out by its `offeredBy`). */
  offers(name: string): boolean {
    const tool = Object.hasOwn(this.definition.tools, name) ? this.definition.tools[name] : undefined;
    return tool !== undefined && (tool.offeredBy?.(this.config) ?? true);
  }

  /**
   * The model this environment's episodes may call (a simulated search engine, a RAG check, a
   * judge), given by whoever runs it: the trainer with `environment.model`, a test with any policy.
   */
  get model(): ChatTextModel | undefined {
    return this.modelValue;
  }

  useModel(model: ChatTextModel): void {
    this.modelValue = model;
  }

  /** The whole task set (computed once). */
  tasks(): Promise<Task[]> {
    this.taskList ??= Promise.resolve(this.definition.tasks(this.config));
    return this.taskList;
  }

  /** What loading the data files kept, skipped and changed (empty for an environment without files). */
  async dataReport(): Promise<readonly DataFileReport[]> {
    await this.tasks();
    return (await this.definition.dataReport?.(this.config)) ?? [];
  }

  async tasksOf(split: Split): Promise<Task[]> {
    return (await this.tasks()).filter((t) => t.split === split);
  }

  async task(id: string): Promise<Task> {
    const task = (await this.tasks()).find((t) => t.id === id);
    if (!task) throw new EpisodeStateError('unknown_task', `environment '${this.ref}' has no task '${id}'`, 'list tasks with `toolgym env tasks`');
    return task;
  }

  /** Picks the task (by id, or by seed from a split) and runs `setup`. */
  async openEpisode(params: StartParams = {}): Promise<Episode<State, Config>> {
    const p = StartParamsSchema.parse(params);
    let task: Task;
    if (p.taskId !== undefined) {
      task = await this.task(p.taskId);
    } else {
      const pool = await this.tasksOf(p.split);
      if (pool.length === 0) throw new EpisodeStateError('no_tasks', `environment '${this.ref}' has no ${p.split} tasks`);
      task = new Rng(p.seed).pick(pool);
    }
    if (p.match !== undefined && !taskSeatOf(task))
      throw new EpisodeStateError(
        'not_a_seat',
        `task '${task.id}' of '${this.ref}' is no seat of a match, so it cannot join match '${p.match}'`,
        "start it without `match`, or pick a task whose meta declares its seat (match, seat, seats, role)",
      );
    const id = `${this.id}-${process.pid}-${++this.episodeCounter}-${Date.now().toString(36)}`;
    const episode = new Episode(this, id, task, p.seed, p.match, p.progress);
    await episode.setup();
    return episode;
  }
}

const encoder = new TextEncoder();

/** What the model is told when a limit has ended the episode. */
const TRUNCATION_TEXT: Record<Truncation, (limits: EpisodeLimits) => string> = {
  max_turns: (l) => `it allows ${l.maxTurns} assistant turns`,
  max_tool_calls: (l) => `it allows ${l.maxToolCalls} tool calls`,
  time_limit: (l) => `it allows ${Math.round(l.maxEpisodeMs / 1000)} s`,
};

/** One episode: per-episode state, the call log, grading, and guaranteed teardown. */
// biome-ignore lint/suspicious/noExplicitAny: as for Environment
export class Episode<State = any, Config = any> implements EpisodeContext<State, Config> {
  readonly rng: Rng;
  readonly calls: ToolCallRecord[] = [];
  private stateValue?: State;
  private promptText?: string;
  private endedBy: 'none' | 'terminated' = 'none';
  private answerValue: unknown;
  private closed = false;
  private closing?: Promise<void>;
  private readonly lifetime = new AbortController();
  private truncationValue?: Truncation;
  private readonly openedAt = performance.now();
  /** Wrong answers answered with feedback instead of ending the episode (`withFeedback`). */
  private readonly failedAttempts: FailedAttempt[] = [];
  /** With feedback: the grade of the right answer that ended the episode, and how many calls it saw. */
  private answerGrade?: { reward: RewardBreakdown; calls: number };

  constructor(
    readonly env: Environment<State, Config>,
    readonly id: string,
    readonly task: Task,
    readonly seed: number,
    /** The shared match this episode joined as its task's seat, if any. */
    readonly match?: string,
    /** How far the training run that plays it is (0–1), if one does. */
    readonly progress?: number,
  ) {
    this.rng = new Rng(hashString(`${task.id}:${seed}`));
  }

  /** The prompt the episode started with: the environment's `prompt` of it, else the task's. */
  get prompt(): string {
    return this.promptText ?? this.task.prompt;
  }

  get config(): Config {
    return this.env.config;
  }

  get state(): State {
    if (this.stateValue === undefined) throw new EpisodeStateError('not_set_up', 'episode state used before setup');
    return this.stateValue;
  }

  get terminated(): boolean {
    return this.endedBy === 'terminated';
  }

  get answer(): unknown {
    return this.answerValue;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  terminate(answer?: unknown): void {
    this.endedBy = 'terminated';
    this.answerValue = answer;
  }

  /** @internal run by `Environment.openEpisode`. */
  async setup(): Promise<void> {
    const def = this.env.definition;
    this.stateValue = await def.setup(this.task, {
      config: this.config,
      seed: this.seed,
      rng: this.rng.fork(),
      signal: this.lifetime.signal,
      ...(this.match !== undefined ? { match: this.match } : {}),
      ...(this.progress !== undefined ? { progress: this.progress } : {}),
      ...(this.env.model ? { model: this.env.model } : {}),
    });
    if (!def.prompt) return;
    try {
      this.promptText = await def.prompt(this);
    } catch (error) {
      await this.close(); // the state exists: release it before the start fails
      throw error;
    }
  }

  /** Which limit cut the episode short, if one did. */
  get truncation(): Truncation | undefined {
    return this.truncationValue;
  }

  /**
   * Runs one tool call. Never throws for anything the model did: unknown tools, bad arguments,
   * a failing or hanging tool, oversized output and calls past a limit all come back as results.
   * `turn` is the assistant turn that made the call (from 0), when the client says so.
   */
  async callTool(name: string, args: unknown, options: { signal?: AbortSignal; turn?: number } = {}): Promise<ToolCallOutcome> {
    const answeredBefore = this.terminated;
    const outcome = await this.runCall(name, args, options);
    return outcome.terminated && !answeredBefore ? this.afterAnswer(outcome) : outcome;
  }

  /**
   * With feedback (`withFeedback`), an answer that ended the episode is graded at once: a wrong one,
   * while re-attempts remain, is taken back and answered with the feedback, so the episode goes on.
   * A right answer's grade is kept for `end`, so an answer is graded once (code runs its tests once).
   * A grade that fails here leaves the answer standing; `end` grades it again and reports the failure.
   */
  private async afterAnswer(outcome: ToolCallOutcome): Promise<ToolCallOutcome> {
    const definition = this.env.definition;
    const feedback = definition.feedback;
    if (!feedback || this.failedAttempts.length >= feedback.tryAgain) return outcome;
    let text: string;
    try {
      const reward = RewardBreakdownSchema.parse(await definition.grade({ episode: this }));
      if (correctnessOf(reward, feedback, definition.ref) === 1) {
        this.answerGrade = { reward, calls: this.calls.length };
        return outcome;
      }
      const guidance = feedback.guidance ? await definition.guidance?.({ episode: this, reward }) : undefined;
      text = guidance ? `${feedback.message}\n${guidance}` : feedback.message;
      this.failedAttempts.push({ answer: this.answerValue, reward });
    } catch {
      return outcome;
    }
    this.endedBy = 'none';
    this.answerValue = undefined;
    const shown = truncateUtf8(text, this.env.limits.maxToolOutputBytes);
    // The call log keeps what the agent saw, so a rescore replays the same observation.
    const record = this.calls.at(-1);
    if (record) record.output = shown.text;
    return { ...outcome, content: shown.text, truncated: shown.truncated, terminated: false };
  }

  private async runCall(name: string, args: unknown, options: { signal?: AbortSignal; turn?: number }): Promise<ToolCallOutcome> {
    const started = performance.now();
    const limits = this.env.limits;
    const finish = (output: ToolOutput, errorCode?: string): ToolCallOutcome => {
      const raw = typeof output === 'string' ? output : output.text;
      const isError = errorCode !== undefined || (typeof output !== 'string' && output.isError === true);
      if (typeof output !== 'string' && output.terminate && !isError && !this.closed) this.terminate(output.terminate.answer);
      const { text, truncated } = truncateUtf8(raw, limits.maxToolOutputBytes);
      const ms = performance.now() - started;
      const code = errorCode ?? (isError ? 'tool_error' : undefined);
      // Calls past a limit are not part of the episode, and the log holds at most maxToolCalls
      // entries, so a client that keeps calling cannot grow it.
      if (errorCode !== 'episode_over' && this.calls.length < limits.maxToolCalls)
        this.calls.push({ name, arguments: args, isError, ...(code ? { errorCode: code } : {}), output: text, ms });
      return { content: text, isError, ...(code ? { errorCode: code } : {}), truncated, terminated: this.terminated, ms };
    };

    if (this.closed) return finish(`The episode is closed; no more tool calls.`, 'episode_ended');
    if (this.terminated) return finish(`The episode has ended (an answer was given); no more tool calls.`, 'episode_ended');
    const over = this.limitReached(options.turn);
    if (over) {
      this.truncationValue ??= over;
      return finish(`The episode is over: ${TRUNCATION_TEXT[this.truncationValue](limits)}. No more tool calls.`, 'episode_over');
    }
    if (!this.env.offers(name)) {
      const known = this.env.toolSpecs.map((spec) => spec.name);
      return finish(`Unknown tool '${name}'. Available tools: ${known.join(', ')}.`, 'unknown_tool');
    }
    const tool = this.env.definition.tools[name]!;
    const parsed = tool.input.safeParse(args ?? {});
    if (!parsed.success) {
      return finish(`Invalid arguments for '${name}': ${formatZodIssues(parsed.error)}.`, 'invalid_arguments');
    }
    const timeoutMs = tool.timeoutMs ?? limits.toolTimeoutMs;
    const moduleUrl = tool.pure ? moduleOf(this.env.definition) : undefined;
    if (moduleUrl) {
      try {
        return finish(await toolWorkerPool(moduleUrl).run(this.env.ref, name, parsed.data, timeoutMs));
      } catch (error) {
        if (error instanceof ToolDeadlineError)
          return finish(`Tool '${name}' ran past ${timeoutMs} ms and was stopped.`, 'tool_timeout');
        return this.failure(name, error, finish);
      }
    }
    // The controller is made only when the tool reads its signal or runs asynchronously: most
    // cheap tools are synchronous and never look at it.
    let controller: AbortController | undefined;
    // A call stopped at its deadline keeps running unawaited: the scope keeps what it does later out of the episode.
    const scope = tool.pure ? undefined : new CallScope<Episode<State, Config>>(this, name);
    const context = !scope
      ? (undefined as never)
      : {
          episode: scope.episode,
          get signal(): AbortSignal {
            controller ??= new AbortController();
            return controller.signal;
          },
        };
    // On the event loop the tool's synchronous code holds every other episode of this process:
    // it is stopped after the sync budget.
    const budgetMs = Math.min(limits.syncBudgetMs, timeoutMs);
    let pending: Promise<ToolOutput>;
    try {
      const run = runWithinBudget(() => tool.run(parsed.data, context), budgetMs);
      if (!run.finished) {
        scope?.stop();
        return finish(`Tool '${name}' ran synchronously past ${budgetMs} ms and was stopped.`, 'tool_timeout');
      }
      if (!(run.value instanceof Promise)) return finish(run.value);
      pending = run.value;
    } catch (error) {
      return this.failure(name, error, finish);
    }
    // Aborting makes the controller if the tool has not read its signal yet, so a late read still sees it aborted.
    const abort = (reason: string) => {
      controller ??= new AbortController();
      controller.abort(new Error(reason));
    };
    const onParentAbort = () => abort('episode closed or call cancelled');
    const parents = [this.lifetime.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
    for (const parent of parents) parent.addEventListener('abort', onParentAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const result = await Promise.race([pending, timeout]);
      if (result === 'timeout') {
        abort('tool timeout');
        scope?.stop();
        pending.catch(() => {}); // the cancelled call may still reject later
        return finish(`Tool '${name}' timed out after ${timeoutMs} ms and was cancelled.`, 'tool_timeout');
      }
      return finish(result);
    } catch (error) {
      return this.failure(name, error, finish);
    } finally {
      clearTimeout(timer);
      for (const parent of parents) parent.removeEventListener('abort', onParentAbort);
    }
  }

  /** The limit a call made now (in assistant turn `turn`) would break, if any. */
  private limitReached(turn: number | undefined): Truncation | undefined {
    const limits = this.env.limits;
    if (this.truncationValue) return this.truncationValue;
    if (turn !== undefined && turn >= limits.maxTurns) return 'max_turns';
    if (this.calls.length >= limits.maxToolCalls) return 'max_tool_calls';
    if (performance.now() - this.openedAt >= limits.maxEpisodeMs) return 'time_limit';
    return undefined;
  }

  private failure(name: string, error: unknown, finish: (output: ToolOutput, code?: string) => ToolCallOutcome): ToolCallOutcome {
    if (error instanceof ToolError) return finish(error.message, error.code);
    const message = error instanceof Error ? error.message : String(error);
    return finish(`Tool '${name}' failed: ${message}`, 'tool_failed');
  }

  /**
   * Grades the episode and releases its resources. An episode that is past its wall-clock limit
   * without an answer is truncated; the final text of a truncated episode arrived too late and is
   * not graded.
   */
  async end(finalText?: string): Promise<EndResult> {
    if (this.closed) throw new EpisodeStateError('episode_closed', `episode ${this.id} was already ended`);
    if (!this.terminated && performance.now() - this.openedAt >= this.env.limits.maxEpisodeMs) this.truncationValue ??= 'time_limit';
    const graded = this.truncationValue === undefined ? finalText : undefined;
    try {
      const kept = this.answerGrade?.calls === this.calls.length ? this.answerGrade.reward : undefined;
      const grade =
        kept ??
        RewardBreakdownSchema.parse(
          await this.env.definition.grade({ episode: this, ...(graded !== undefined ? { finalText: graded } : {}) }),
        );
      const feedback = this.env.definition.feedback;
      if (feedback) correctnessOf(grade, feedback, this.env.definition.ref);
      const reward = feedback
        ? feedbackReward(grade, this.failedAttempts, { given: this.terminated, answer: this.answerValue }, feedback)
        : grade;
      if (reward.steps && reward.steps.length !== this.calls.length)
        throw new EpisodeStateError(
          'bad_process_rewards',
          `environment ${this.env.definition.id} graded ${this.calls.length} tool calls with ${reward.steps.length} process rewards (reward.steps)`,
          'return one step reward per entry of episode.calls, in order, or none',
        );
      const truncation = this.truncationValue;
      return {
        episodeId: this.id,
        terminated: this.terminated,
        truncated: truncation !== undefined,
        ...(truncation ? { truncation } : {}),
        toolCalls: this.calls.length,
        reward,
      };
    } finally {
      await this.close();
    }
  }

  /** Releases the episode's resources; safe to call any number of times. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.lifetime.abort(new Error('episode closed'));
      if (this.stateValue !== undefined) await this.env.definition.teardown?.(this.stateValue);
    })();
    return this.closing;
  }
}

/** Cuts text to `maxBytes` of UTF-8 (on a character boundary) and says how much was cut. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (text.length <= maxBytes / 3) return { text, truncated: false };
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return { text, truncated: false };
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  const head = new TextDecoder().decode(bytes.subarray(0, end));
  return { text: `${head}\n[output truncated: ${bytes.length} bytes, showing the first ${end}]`, truncated: true };
}
