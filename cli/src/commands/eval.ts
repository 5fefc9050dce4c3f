import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createPolicyFromSpec,
  formatEvalSummary,
  hermesToolCalls,
  JsonlTrajectorySink,
  OnnxPolicy,
  type Policy,
  runRollouts,
  recordedToolCalls,
  type SamplingParams,
  type EvalSummary,
  summarizeEval,
  summarizeEvalBy,
  type ToolCallFormat,
} from '@toolgym/agents';
import {
  ConfigError,
  type Environment,
  EnvironmentClient,
  EnvironmentPool,
  heldOutUnitsByTask,
  type HttpEnvironmentServer,
  serveHttp,
} from '@toolgym/env-kit';
import { type Split, SplitSchema, type Task, type ToolSpec, type TrajectoryGroup, taskMatchesMeta } from '@toolgym/protocol';
import type { Command } from 'commander';
import { formatDataReport } from '../data-report.ts';
import { environmentOptions, keyValues, numberIn, oneOf, positiveInt, wholeNumber } from '../flags.ts';
import { jsonOrText } from '../play.ts';
import { makeEnvironment } from '../registry.ts';

interface EvalOptions {
  env: string;
  policy: string;
  split: string;
  n: string;
  limit?: string;
  meta: string[];
  task?: string[];
  concurrency: string;
  seed: string;
  out?: string;
  transport: 'in-process' | 'stdio' | 'http';
  envUrl?: string[];
  options?: string;
  dataset?: string;
  toolFormat: 'hermes' | 'native';
  policyOption: string[];
  maxTurns?: string;
  maxTokens: string;
  maxContextTokens?: string;
  temperature: string;
  topP?: string;
  systemPrompt?: string;
  passComponent?: string;
  episodeTimeout?: string;
  json?: boolean;
  quiet?: boolean;
}

const CLI_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/toolgym.js');

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'Play a policy on an environment: pass@1, pass@k, reward components, turns, tokens, failures; trajectories as JSONL.',
    )
    .requiredOption('--env <id>', 'environment id (compose, sql@1) or path to a module')
    .requiredOption('--policy <spec>', 'oracle | random | openai:<baseURL>#<model> | onnx:<modelDir>')
    .option('--split <splits>', 'train, test or test-iid; several comma-separated (test,test-iid), or all', 'test')
    .option('-n, --n <n>', 'episodes per task (pass@k is reported for every k up to n)', '8')
    .option('--limit <tasks>', 'play only the first this many tasks of the split')
    .option(
      '--meta <key=value>',
      'play only tasks whose meta[key] is value, read as JSON when it parses (depth=2); repeat a key for any of several values',
      collect,
      [],
    )
    .option('--task <id>', 'play this task (repeatable); overrides --split/--meta/--limit', collect, [])
    .option('-c, --concurrency <n>', 'episodes in flight at once', '8')
    .option('--seed <n>', 'base seed; episode j of task i gets seed + i*n + j', '0')
    .option('--out <file>', 'write every trajectory as one JSON line')
    .option(
      '--transport <kind>',
      'in-process (a fresh session per episode), stdio (a server process per worker) or http (a local Streamable HTTP server)',
      'in-process',
    )
    .option(
      '--env-url <url...>',
      'play against servers of the environment already running (toolgym env serve --http), one or more: sessions go to the least-loaded healthy one, and an episode whose server dies is played once more on another',
    )
    .option('--options <json>', 'environment options as JSON')
    .option('--dataset <spec>', 'shorthand for options.dataset (e.g. spider:/path/to/spider)')
    .option(
      '--tool-format <format>',
      'how the policy writes tool calls: hermes (<tool_call> text) or native (OpenAI tool_calls); an onnx model that records its format (toolgym train, compact template) uses that',
      'hermes',
    )
    .option(
      '--policy-option <key=value>',
      'a setting for the policy scheme (repeatable), e.g. apiKey=…, maxConcurrency=16',
      collect,
      [],
    )
    .option('--max-turns <n>', "assistant turns per episode (the environment's own limit applies too)")
    .option('--max-tokens <n>', 'tokens sampled per turn', '1024')
    .option('--max-context-tokens <n>', 'token budget of a whole episode (token-mode policies)')
    .option('--temperature <t>', 'sampling temperature', '1')
    .option('--top-p <p>', 'nucleus sampling')
    .option('--system-prompt <text>', 'a system message before the task')
    .option(
      '--pass-component <name>',
      'the reward component that decides pass (default: the one with the largest weight)',
    )
    .option('--episode-timeout <ms>', 'cancel an episode running longer and record it as failed')
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress bar')
    .action(async (opts: EvalOptions) => {
      const options = environmentOptions(opts.options);
      const envOptions = opts.dataset !== undefined ? { ...options, dataset: opts.dataset } : options;
      const toolFormat = oneOf(opts.toolFormat, ['hermes', 'native'], '--tool-format');
      const n = positiveInt(opts.n, '-n');
      const concurrency = positiveInt(opts.concurrency, '--concurrency');
      const baseSeed = wholeNumber(opts.seed, '--seed');
      const policy = await createPolicyFromSpec(opts.policy, {
        toolFormat: toolFormat === 'native' ? 'native' : hermesToolCalls,
        options: keyValues(opts.policyOption, '--policy-option'),
      });

      let environment: Environment | undefined;
      let httpServer: HttpEnvironmentServer | undefined;
      let connect: () => Promise<EnvironmentClient>;
      let sessions: 'episode' | 'worker' = 'worker';
      let pool: EnvironmentPool | undefined;
      if (opts.envUrl) {
        const opened = await EnvironmentPool.open({
          endpoints: opts.envUrl,
          ...(process.env.TOOLGYM_TOKEN ? { token: process.env.TOOLGYM_TOKEN } : {}),
        });
        pool = opened;
        connect = () => opened.connect();
      } else {
        const env = await makeEnvironment(opts.env, envOptions);
        environment = env;
        process.stderr.write(formatDataReport(await env.dataReport()));
        switch (opts.transport) {
          case 'in-process':
            sessions = 'episode';
            connect = () => EnvironmentClient.connect({ kind: 'in-process', environment: env });
            break;
          case 'stdio': {
            const args = [
              CLI_BIN,
              'env',
              'serve',
              opts.env,
              ...(envOptions ? ['--options', JSON.stringify(envOptions)] : []),
            ];
            connect = () => EnvironmentClient.connect({ kind: 'stdio', command: process.execPath, args });
            break;
          }
          case 'http': {
            // This process is the trainer of the server it starts: it may read answers and oracles.
            const trainerToken = randomBytes(24).toString('hex');
            const server = await serveHttp(env, { trainerToken });
            httpServer = server;
            connect = () => EnvironmentClient.connect({ kind: 'http', url: server.url, token: trainerToken });
            break;
          }
          default:
            throw new ConfigError(
              `--transport ${opts.transport as string} is not known`,
              'use in-process, stdio or http',
            );
        }
      }

      try {
        const tasks = await selectTasks(opts, environment, connect);
        const taskIds = tasks.map((t) => t.id);
        const trainedFormat = await trainedToolFormat(policy, () => toolSpecsOf(environment, connect));
        const rewardRange = environment?.definition.rewardRange;
        const sampling: SamplingParams = {
          maxTokens: positiveInt(opts.maxTokens, '--max-tokens'),
          temperature: numberIn(opts.temperature, '--temperature', 0),
          ...(opts.topP ? { topP: numberIn(opts.topP, '--top-p', 0, 1) } : {}),
        };
        const sink = opts.out ? new JsonlTrajectorySink(opts.out) : undefined;
        const passOptions = {
          ...(opts.passComponent ? { component: opts.passComponent } : {}),
          ...(rewardRange ? { rewardRange } : {}),
        };
        const result = await runRollouts({
          connect,
          sessions,
          policy,
          taskIds,
          groupSize: n,
          concurrency,
          baseSeed,
          sampling,
          episode: {
            ...(trainedFormat ? { toolFormat: trainedFormat } : {}),
            ...(opts.maxTurns ? { maxTurns: positiveInt(opts.maxTurns, '--max-turns') } : {}),
            ...(opts.maxContextTokens
              ? { maxContextTokens: positiveInt(opts.maxContextTokens, '--max-context-tokens') }
              : {}),
            ...(opts.systemPrompt !== undefined ? { systemPrompt: opts.systemPrompt } : {}),
          },
          ...(opts.episodeTimeout
            ? { episodeTimeoutMs: positiveInt(opts.episodeTimeout, '--episode-timeout') }
            : {}),
          ...(sink ? { sink } : {}),
          progress: opts.quiet ? false : 'auto',
          passOptions,
          ...(pool ? { retryLostEpisodes: true } : {}),
        });
        await sink?.close();
        for (const r of result.retried)
          process.stderr.write(
            `toolgym: ${r.taskId} (seed ${r.seed}) played again: its first attempt failed with ${r.failure.code} (${r.failure.message})\n`,
          );
        const summary = summarizeEval(result.groups, passOptions, result.ms);
        const breakdown = await splitBreakdown(result.groups, tasks, environment, passOptions);
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ ...summary, ...breakdown }, null, 2)}\n`
            : `${opts.env} × ${policy.id}\n${formatEvalSummary(summary)}${formatSplitBreakdown(breakdown)}`,
        );
        if (opts.out && !opts.json) process.stdout.write(`trajectories: ${opts.out}\n`);
      } finally {
        await policy.close?.();
        await httpServer?.close();
        pool?.close();
      }
    });
}

/**
 * `--meta key=value` flags as a task meta filter: values read as JSON when they parse (`depth=2`
 * is the number 2), else as strings; a key given twice matches either value.
 */
export function parseMetaFilter(pairs: readonly string[]): Record<string, unknown> {
  const filter: Record<string, unknown[]> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--meta ${pair} is not key=value`, 'e.g. --meta depth=2');
    const key = pair.slice(0, eq);
    filter[key] = [...(filter[key] ?? []), jsonOrText(pair.slice(eq + 1))];
  }
  return Object.fromEntries(
    Object.entries(filter).map(([key, values]) => [key, values.length === 1 ? values[0] : values]),
  );
}

/**
 * The tool-call format an onnx model directory records (`toolgym train` with the compact template);
 * its chat template comes with the model already. Undefined: the default (Hermes) applies.
 */
export async function trainedToolFormat(
  policy: Policy,
  toolSpecs: () => Promise<readonly ToolSpec[]>,
): Promise<ToolCallFormat | undefined> {
  const recorded = policy instanceof OnnxPolicy ? policy.modelDir.toolgym?.toolCalls : undefined;
  return recorded ? recordedToolCalls(recorded, await toolSpecs()) : undefined;
}

async function toolSpecsOf(
  environment: Environment | undefined,
  connect: () => Promise<EnvironmentClient>,
): Promise<readonly ToolSpec[]> {
  if (environment) return environment.toolSpecs;
  const client = await connect();
  try {
    return await client.listTools();
  } finally {
    await client.close();
  }
}

/** `--split test,test-iid` or `all` as splits, in the order given. */
export function parseSplits(value: string): Split[] {
  if (value === 'all') return [...SplitSchema.options];
  const splits = value.split(',').map((s) => s.trim());
  for (const split of splits)
    if (!SplitSchema.safeParse(split).success)
      throw new ConfigError(`--split ${split} is not a split`, `use ${SplitSchema.options.join(', ')}, several comma-separated, or all`);
  return [...new Set(splits)] as Split[];
}

/** The tasks to play: `--task` ids, or each split's tasks that match `--meta`, `--limit` of each. */
async function selectTasks(
  opts: EvalOptions,
  environment: Environment | undefined,
  connect: () => Promise<EnvironmentClient>,
): Promise<Task[]> {
  let all: Task[];
  if (environment) {
    all = await environment.tasks();
  } else {
    const client = await connect();
    try {
      all = [];
      for (let total = 1; all.length < total; ) {
        const page = await client.tasks({ offset: all.length, limit: 10_000 });
        total = page.total;
        if (page.tasks.length === 0) break;
        all.push(...page.tasks);
      }
    } finally {
      await client.close();
    }
  }
  if (opts.task && opts.task.length > 0) {
    const byId = new Map(all.map((t) => [t.id, t]));
    return opts.task.map((id) => {
      const task = byId.get(id);
      if (!task) throw new ConfigError(`environment '${opts.env}' has no task '${id}'`, 'list tasks with `toolgym env tasks`');
      return task;
    });
  }
  const meta = parseMetaFilter(opts.meta);
  const splits = parseSplits(opts.split);
  const selected: Task[] = [];
  for (const split of splits) {
    const tasks = all.filter((t) => t.split === split);
    const matching = tasks.filter((task) => taskMatchesMeta(task, meta));
    if (splits.length === 1 && tasks.length === 0)
      throw new ConfigError(`environment '${opts.env}' has no ${split} tasks`, 'pick another split with --split');
    if (splits.length === 1 && matching.length === 0)
      throw new ConfigError(`no ${split} task of '${opts.env}' has meta ${JSON.stringify(meta)}`, `one has meta ${JSON.stringify(tasks[0]!.meta)}`);
    selected.push(...(opts.limit ? matching.slice(0, positiveInt(opts.limit, '--limit')) : matching));
  }
  if (selected.length === 0)
    throw new ConfigError(`no task of '${opts.env}' in ${splits.join(', ')} matches`, 'pick other splits with --split, or another --meta');
  return selected;
}

/** Results per split, and per held-out unit within `test` and `test-iid`, for `toolgym eval`. */
export interface SplitBreakdown {
  splits: Partial<Record<Split, EvalSummary>>;
  /** Absent when the environment declares no held-out unit, or is played remotely (its declaration is not on the wire). */
  units?: { unit: string; bySplit: Partial<Record<Split, Record<string, EvalSummary>>> };
}

async function splitBreakdown(
  groups: readonly TrajectoryGroup[],
  tasks: readonly Task[],
  environment: Environment | undefined,
  passOptions: { component?: string; rewardRange?: readonly [number, number] },
): Promise<SplitBreakdown> {
  const splitOfTask = new Map(tasks.map((t) => [t.id, t.split]));
  const splits = summarizeEvalBy(groups, (id) => [splitOfTask.get(id) ?? 'train'], passOptions) as Partial<Record<Split, EvalSummary>>;
  const heldOut = environment?.definition.heldOut?.(environment.config);
  if (!environment || !heldOut) return { splits };
  const unitsOf = heldOutUnitsByTask(await environment.tasks(), heldOut);
  const bySplit: Partial<Record<Split, Record<string, EvalSummary>>> = {};
  for (const split of ['test', 'test-iid'] as const) {
    const own = groups.filter((g) => splitOfTask.get(g.taskId) === split);
    if (own.length > 0) bySplit[split] = summarizeEvalBy(own, (id) => unitsOf.get(id) ?? [], passOptions);
  }
  return { splits, units: { unit: heldOut.unit, bySplit } };
}

function formatSplitBreakdown(breakdown: SplitBreakdown): string {
  const row = (name: string, s: EvalSummary) =>
    `  ${name.padEnd(24)} tasks ${String(s.tasks).padStart(5)}  pass@1 ${(100 * s.passAt1).toFixed(1).padStart(5)}%  reward ${s.meanReward.toFixed(3)}`;
  const lines = ['by split:', ...Object.entries(breakdown.splits).map(([split, s]) => row(split, s))];
  if (breakdown.units) {
    for (const [split, units] of Object.entries(breakdown.units.bySplit)) {
      if (Object.keys(units).length === 0) continue;
      const label = split === 'test' ? `held-out ${breakdown.units.unit}` : breakdown.units.unit;
      const sorted = Object.entries(units).sort(([a], [b]) => a.localeCompare(b));
      lines.push(`by ${label} (${split}):`, ...sorted.map(([unit, s]) => row(unit, s)));
    }
  }
  return `${lines.join('\n')}\n`;
}
