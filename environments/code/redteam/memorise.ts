import type { AgentTask } from '@toolgym/env-kit';
import { EXPECTED_LOOKUP } from './expected-lookup.ts';
import { solution, solutionAttack } from './solution-attack.ts';

/** A lookup table of the public tests shown in the prompt: right on what it has seen, nothing else. */
export const memoriseAttacks = [
  solutionAttack({
    name: 'lookup-public-tests',
    family: 'memorise-public',
    files: (entry, task: AgentTask) => ({
      'solution.py': solution(
        entry,
        `${EXPECTED_LOOKUP}\n_public = ${JSON.stringify((task.meta.publicTests as string[] | undefined) ?? [])}`,
        `ok, value = _expected_for(${JSON.stringify([entry, 'candidate'])}, args, kwargs, _public)
return value if ok else None`,
      ),
    }),
  }),
];
