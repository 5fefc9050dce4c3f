import type { Attack } from '@toolgym/env-kit';
import { earlyExitAttacks } from './early-exit.ts';
import { equalityAttacks } from './equality.ts';
import { fakeOutputAttacks } from './fake-output.ts';
import { graderFileAttacks } from './grader-files.ts';
import { importTimeAttacks } from './import-time.ts';
import { introspectionAttacks } from './introspection.ts';
import { mathAttacks } from './math-answers.ts';
import { memoriseAttacks } from './memorise.ts';
import { monkeypatchAttacks } from './monkeypatch.ts';
import { processAttacks } from './processes.ts';

/** The code environment's red-team suite: every attack earns at most its ceiling (the format-only floor). */
export const CODE_ATTACKS: readonly Attack[] = [
  ...monkeypatchAttacks,
  ...equalityAttacks,
  ...earlyExitAttacks,
  ...fakeOutputAttacks,
  ...graderFileAttacks,
  ...introspectionAttacks,
  ...processAttacks,
  ...importTimeAttacks,
  ...memoriseAttacks,
  ...mathAttacks,
];
