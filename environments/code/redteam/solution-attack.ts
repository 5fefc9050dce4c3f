import type { AgentTask, Attack, AttackEpisode } from '@toolgym/env-kit';

/** The format-only floor of a programming task under the default weights: it submits a solution.py that loads and defines the function, and earns nothing else. */
export const FORMAT_FLOOR = 0.1;

export const isProgramming = (task: AgentTask) =>
  task.meta.kind === 'programming' && typeof task.meta.entryPoint === 'string';
export const isMath = (task: AgentTask) => task.meta.kind === 'interpreter';

/**
 * An attack that writes files (always a solution.py defining the task's function) and submits:
 * the shape of every attack on the hidden-test grader. `files` sees only what an agent sees.
 */
export function solutionAttack(spec: {
  name: string;
  family: string;
  files: (entryPoint: string, task: AgentTask) => Record<string, string>;
}): Attack {
  return {
    name: spec.name,
    family: spec.family,
    ceiling: FORMAT_FLOOR,
    appliesTo: isProgramming,
    async play(episode: AttackEpisode) {
      const files = spec.files(episode.task.meta.entryPoint as string, episode.task);
      for (const [path, content] of Object.entries(files))
        await episode.call('write_file', { path, content });
      await episode.call('submit', {});
      return undefined;
    },
  };
}

/** A solution.py: `prelude` at import time, then the task's function with `body` (its arguments are `*args, **kwargs`). */
export const solution = (entryPoint: string, prelude: string, body = 'return None') =>
  `${prelude}\n\ndef ${entryPoint}(*args, **kwargs):\n${indent(body)}\n`;

const indent = (code: string) =>
  code
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
