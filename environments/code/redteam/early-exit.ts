import { solution, solutionAttack } from './solution-attack.ts';

/** Ending the test process before a failure is recorded, hoping silence or an exit code reads as a pass. */
const family = 'early-exit';

export const earlyExitAttacks = [
  solutionAttack({
    name: 'sys-exit-at-import',
    family,
    files: (entry) => ({ 'solution.py': solution(entry, 'import sys\nsys.exit(0)') }),
  }),
  solutionAttack({
    name: 'os-exit-in-call',
    family,
    files: (entry) => ({ 'solution.py': solution(entry, 'import os', 'os._exit(0)') }),
  }),
  solutionAttack({
    name: 'systemexit-in-del',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `class Bomb:
    def __del__(self):
        raise SystemExit(0)
_keep = [Bomb() for _ in range(3)]`,
        'return Bomb()',
      ),
    }),
  }),
  solutionAttack({
    name: 'raise-base-exception',
    family,
    files: (entry) => ({
      'solution.py': solution(entry, 'class Skip(BaseException):\n    pass', 'raise Skip("skipped")'),
    }),
  }),
];
