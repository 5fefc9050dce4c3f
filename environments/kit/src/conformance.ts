import { TaskSchema } from '@toolgym/protocol';
import type { AnyEnvironmentDefinition } from './registry.ts';
import { Environment, type Episode } from './episode.ts';
import { ToolGymError } from '@toolgym/protocol';
import { probeEnvironment } from './probe.ts';

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface ConformanceReport {
  env: string;
  ok: boolean;
  checks: ConformanceCheck[];
}

/**
 * The one check every registered environment passes (Gymnasium's `check_env` in spirit): tasks
 * are deterministic and well-formed, schemas serialise, the same seed gives the same episode,
 * rewards stay in the declared range, bad calls never throw, closing twice is safe, and every
 * episode's resources are released exactly once.
 */
export async function checkEnvironment(
  definition: AnyEnvironmentDefinition,
  options: { config?: unknown; /** Tasks per split the red-team probe plays (default 1; 0 skips it). */ probeTasks?: number } = {},
): Promise<ConformanceReport> {
  const counts = { setups: 0, teardowns: 0 };
  const counted: AnyEnvironmentDefinition = {
    ...definition,
    setup: async (...args) => {
      const state = await definition.setup(...args);
      counts.setups++;
      return state;
    },
    teardown: async (state) => {
      counts.teardowns++;
      await definition.teardown?.(state);
    },
  };
  const config = definition.parseConfig(options.config);
  const env = new Environment(counted, config);
  const checks: ConformanceCheck[] = [];
  const check = async (name: string, body: () => Promise<string | undefined> | string | undefined) => {
    try {
      const problem = await body();
      checks.push(problem ? { name, ok: false, detail: problem } : { name, ok: true });
    } catch (error) {
      checks.push({ name, ok: false, detail: error instanceof ToolGymError ? error.render() : String(error) });
    }
  };
  const [lo, hi] = definition.rewardRange;

  await check('tasks are deterministic', async () => {
    const again = await new Environment(definition, definition.parseConfig(options.config)).tasks();
    return JSON.stringify(again) === JSON.stringify(await env.tasks()) ? undefined : 'two instances with one config made different task sets';
  });
  await check('tasks are well-formed, unique, in both splits', async () => {
    const tasks = await env.tasks();
    const bad = tasks.find((t) => !TaskSchema.safeParse(t).success);
    if (bad) return `task ${bad.id} does not match TaskSchema`;
    if (new Set(tasks.map((t) => t.id)).size !== tasks.length) return 'task ids repeat';
    if ((await env.tasksOf('train')).length === 0) return 'no train tasks';
    if ((await env.tasksOf('test')).length === 0) return 'no test tasks';
    return JSON.stringify(JSON.parse(JSON.stringify(tasks))) === JSON.stringify(tasks) ? undefined : 'tasks do not survive JSON';
  });
  await check('tool schemas serialise to JSON Schema objects', () => {
    for (const spec of definition.toolSpecs) {
      const round = JSON.parse(JSON.stringify(spec.inputSchema));
      if (round.type !== 'object') return `tool ${spec.name}: inputSchema.type is ${round.type}`;
      if (JSON.stringify(round) !== JSON.stringify(spec.inputSchema)) return `tool ${spec.name}: schema changes through JSON`;
      if (!spec.description) return `tool ${spec.name} has no description`;
    }
    return undefined;
  });

  const inRange = (total: number, what: string) =>
    total >= lo - 1e-9 && total <= hi + 1e-9 ? undefined : `${what} reward ${total} outside [${lo}, ${hi}]`;

  await check('same seed gives the same episode', async () => {
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const episode = await env.openEpisode({ split: 'train', seed: 1234 });
      try {
        const calls = definition.oracle?.(episode.task, config) ?? [];
        const outputs: string[] = [];
        for (const call of calls) outputs.push((await episode.callTool(call.name, call.arguments)).content);
        runs.push(JSON.stringify({ task: episode.task.id, outputs }));
      } finally {
        await episode.close();
      }
    }
    return runs[0] === runs[1] ? undefined : `two episodes with seed 1234 differ:\n${runs[0]}\n${runs[1]}`;
  });
  await check('an empty episode grades within the reward range', async () => {
    const episode = await env.openEpisode({ split: 'test', seed: 1 });
    return inRange((await episode.end()).reward.total, 'empty-episode');
  });
  await check('the oracle grades within the reward range', async () => {
    if (!definition.oracle) return undefined;
    const episode = await env.openEpisode({ split: 'test', seed: 2 });
    for (const call of definition.oracle(episode.task, config)) await episode.callTool(call.name, call.arguments);
    return inRange((await episode.end()).reward.total, 'oracle');
  });
  await check('bad calls come back as errors, never exceptions', async () => {
    const episode: Episode = await env.openEpisode({ split: 'train', seed: 3 });
    try {
      const attempts: Array<[string, unknown]> = [
        ['no_such_tool', {}],
        ...definition.toolSpecs.map((s): [string, unknown] => [s.name, { __bogus__: [1, 2, 3] }]),
        ...definition.toolSpecs.map((s): [string, unknown] => [s.name, 'not an object']),
      ];
      for (const [name, args] of attempts) {
        const outcome = await episode.callTool(name, args);
        if (name === 'no_such_tool' && !outcome.isError) return 'an unknown tool did not report an error';
      }
      return inRange((await episode.end()).reward.total, 'bad-call');
    } finally {
      await episode.close();
    }
  });
  await check('closing twice is safe', async () => {
    const episode = await env.openEpisode({ split: 'train', seed: 4 });
    await episode.close();
    await episode.close();
    const late = await episode.callTool(definition.toolSpecs[0]!.name, {});
    return late.errorCode === 'episode_ended' ? undefined : 'a call after close was not refused';
  });
  await check('calls past maxToolCalls are refused and the episode is truncated', async () => {
    const episode = await env.openEpisode({ split: 'train', seed: 5 });
    const { maxToolCalls } = env.limits;
    let last: Awaited<ReturnType<Episode['callTool']>> | undefined;
    // Unknown tools cost nothing to run, and count as calls like any other.
    for (let i = 0; i <= maxToolCalls; i++) last = await episode.callTool('no_such_tool', {});
    const end = await episode.end();
    if (last?.errorCode !== 'episode_over') return `call ${maxToolCalls + 1} came back with ${last?.errorCode ?? 'no error'}, not episode_over`;
    return end.truncation === 'max_tool_calls' ? undefined : `the end result says truncation ${end.truncation}`;
  });
  if ((options.probeTasks ?? 1) > 0) {
    await check('no red-team or generic attack earns more than its ceiling', async () => {
      const report = await probeEnvironment(new Environment(definition, config), { tasks: options.probeTasks ?? 1 });
      const bad = report.rows.filter((r) => r.verdict !== 'pass' && r.verdict !== 'no task');
      return bad.length === 0
        ? undefined
        : bad.map((r) => `${r.attack}: ${r.verdict}${r.error ? ` (${r.error})` : ` (max ${r.max} > ceiling ${r.ceiling} on ${r.worst?.taskId})`}`).join('; ');
    });
  }
  await check('every episode is released exactly once', () =>
    counts.setups === counts.teardowns ? undefined : `${counts.setups} setups but ${counts.teardowns} teardowns`,
  );
  return { env: definition.ref, ok: checks.every((c) => c.ok), checks };
}
