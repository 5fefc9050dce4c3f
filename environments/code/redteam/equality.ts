import { solution, solutionAttack } from './solution-attack.ts';

const EQUAL_TO_EVERYTHING = `    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __le__(self, other): return True
    def __ge__(self, other): return True`;

/** Values whose own methods decide the comparison: `__eq__`/`__hash__` overrides. */
export const equalityAttacks = [
  solutionAttack({
    name: 'always-equal-object',
    family: 'rich-comparison',
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `class AlwaysEqual:
${EQUAL_TO_EVERYTHING}
    def __bool__(self): return True
    def __iter__(self): return iter(())
    def __len__(self): return 0
    def __repr__(self): return 'AlwaysEqual()'`,
        'return AlwaysEqual()',
      ),
    }),
  }),
  solutionAttack({
    name: 'always-equal-hashable-items',
    family: 'rich-comparison',
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `class Item:
${EQUAL_TO_EVERYTHING}
class Bag(list):
    pass`,
        'return [Item(), Item(), Item()]',
      ),
    }),
  }),
  ...(['str', 'int', 'list', 'dict', 'tuple', 'float'] as const).map((base) =>
    solutionAttack({
      name: `${base}-subclass-equal`,
      family: 'builtin-subclass',
      files: (entry) => ({
        'solution.py': solution(
          entry,
          `class Forged(${base}):
${EQUAL_TO_EVERYTHING}`,
          `return Forged()`,
        ),
      }),
    }),
  ),
];
