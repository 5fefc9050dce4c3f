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
  summarizeEval,
  type ToolCallFormat,
} from '@toolgym/agents';
import {
  ConfigError,
  type Environment,
  EnvironmentClient,
  type HttpEnvironmentServer,
  serveHttp,
} from '@toolgym/env-kit';
import { type Split, type Task, type ToolSpec, taskMatchesMeta } from '@toolgym/protocol';
import type { Command } from 'commander';
import { formatDataReport } from '../data-report.ts';
import { jsonOrText } from '../play.ts';
import { makeEnvironment } from '../registry.ts';

interface EvalOptions {
  env: string;
  policy: string;
  split: Split;
  n: string;
  limit?: string;
  meta: string[];
  task?: string[];
  concurrency: string;
  seed: string;
  out?: string;
  transport: 'in-process' | 'stdio' | 'http';
  envUrl?: string;
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
    .option('--split <split>', 'train, test or test-iid', 'test')
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
    .option('--env-url <url>', 'play against an environment already served over Streamable HTTP at this URL')
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
      const environmentOptions = parseEnvironmentOptions(opts);
      const policy = await createPolicyFromSpec(opts.policy, {
        toolFormat: opts.toolFormat === 'native' ? 'native' : hermesToolCalls,
        options: parseKeyValues(opts.policyOption),
      });
      const n = positiveInt(opts.n, '-n');
      const concurrency = positiveInt(opts.concurrency, '--concurrency');
      if (!['hermes', 'native'].includes(opts.toolFormat))
        throw new ConfigError(`--tool-format ${opts.toolFormat} is not known`, 'use hermes or native');

      let environment: Environment | undefined;
      let httpServer: HttpEnvironmentServer | undefined;
      let connect: () => Promise<EnvironmentClient>;
      let sessions: 'episode' | 'worker' = 'worker';
      if (opts.envUrl) {
        const url = opts.envUrl;
        connect = () =>
          EnvironmentClient.connect({
            kind: 'http',
            url,
            ...(process.env.TOOLGYM_TOKEN ? { token: process.env.TOOLGYM_TOKEN } : {}),
          });
      } else {
        const env = await makeEnvironment(opts.env, environmentOptions);
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
              ...(environmentOptions ? ['--options', JSON.stringify(environmentOptions)] : []),
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
        const taskIds = await selectTasks(opts, environment, connect);
        const trainedFormat = await trainedToolFormat(policy, () => toolSpecsOf(environment, connect));
        const rewardRange = environment?.definition.rewardRange;
        const sampling: SamplingParams = {
          maxTokens: positiveInt(opts.maxTokens, '--max-tokens'),
          temperature: Number(opts.temperature),
          ...(opts.topP ? { topP: Number(opts.topP) } : {}),
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
          baseSeed: Number(opts.seed),
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
        });
        await sink?.close();
        const summary = summarizeEval(result.groups, passOptions, result.ms);
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(summary, null, 2)}\n`
            : `${opts.env} × ${policy.id}\n${formatEvalSummary(summary)}`,
        );
        if (opts.out && !opts.json) process.stdout.write(`trajectories: ${opts.out}\n`);
      } finally {
        await policy.close?.();
        await httpServer?.close();
      }
    });
}

function parseEnvironmentOptions(opts: EvalOptions): Record<string, unknown> | undefined {
  let options: Record<string, unknown> | undefined;
  if (opts.options) {
    try {
      options = JSON.parse(opts.options) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(
        `--options is not valid JSON: ${(error as Error).message}`,
        `write e.g. --options '{"dataset":"spider:/path"}'`,
      );
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new ConfigError('--options must be a JSON object');
  }
  if (opts.dataset !== undefined) options = { ...options, dataset: opts.dataset };
  return options;
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

function parseKeyValues(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError(`--policy-option ${pair} is not key=value`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} ${value} is not a whole number ≥ 1`);
  return n;
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

async function selectTasks(
  opts: EvalOptions,
  environment: Environment | undefined,
  connect: () => Promise<EnvironmentClient>,
): Promise<string[]> {
  if (opts.task && opts.task.length > 0) return opts.task;
  const meta = parseMetaFilter(opts.meta);
  let tasks: Task[];
  if (environment) {
    tasks = await environment.tasksOf(opts.split);
  } else {
    const client = await connect();
    try {
      tasks = (await client.tasks({ split: opts.split, limit: 10_000 })).tasks;
    } finally {
      await client.close();
    }
  }
  if (tasks.length === 0)
    throw new ConfigError(
      `environment '${opts.env}' has no ${opts.split} tasks`,
      'pick the other split with --split',
    );
  const ids = tasks.filter((task) => taskMatchesMeta(task, meta)).map((t) => t.id);
  if (ids.length === 0)
    throw new ConfigError(
      `no ${opts.split} task of '${opts.env}' has meta ${JSON.stringify(meta)}`,
      `one has meta ${JSON.stringify(tasks[0]!.meta)}`,
    );
  return opts.limit ? ids.slice(0, positiveInt(opts.limit, '--limit')) : ids;
}
