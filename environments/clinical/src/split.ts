import { hashString, type Split } from '@toolgym/protocol';
import type { ClinicalCase } from './case.ts';

type SplitCase = Pick<ClinicalCase, 'id' | 'family' | 'specialty'>;

/**
 * The splits of a set of cases.
 * - `test` holds out whole case families, so no test diagnosis has a train case. Families are
 *   chosen per specialty, so the split spans them: within a specialty, families taken in the order
 *   of a salted hash go to test until the specialty's test cases reach `testFraction` of its cases,
 *   and at least one family of each specialty stays in train. A family belongs to the specialty of
 *   its first case.
 * - `test-iid` holds out one case of every train family that has more than one: a seen diagnosis
 *   in a new presentation.
 * - The rest is `train`. With two families or more, `test` is never empty.
 */
export function assignSplits(
  cases: readonly SplitCase[],
  testFraction: number,
  salt: string,
): Map<string, Split> {
  const rank = (key: string) => hashString(`${salt}:${key}`);
  const families = new Map<string, SplitCase[]>();
  for (const c of cases) families.set(c.family, [...(families.get(c.family) ?? []), c]);
  const bySpecialty = new Map<string, string[]>();
  for (const [family, members] of families) {
    const specialty = (members[0] as SplitCase).specialty;
    bySpecialty.set(specialty, [...(bySpecialty.get(specialty) ?? []), family]);
  }
  const testFamilies = new Set<string>();
  for (const list of bySpecialty.values()) {
    const ordered = [...list].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const size = ordered.reduce((n, f) => n + (families.get(f) as SplitCase[]).length, 0);
    const target = Math.round(testFraction * size);
    let held = 0;
    for (const family of ordered.slice(0, -1)) {
      if (held >= target) break;
      testFamilies.add(family);
      held += (families.get(family) as SplitCase[]).length;
    }
  }
  if (testFamilies.size === 0 && families.size >= 2) {
    const first = [...families.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))[0];
    testFamilies.add(first as string);
  }
  const split = new Map<string, Split>();
  for (const [family, members] of families) {
    if (testFamilies.has(family)) {
      for (const c of members) split.set(c.id, 'test');
      continue;
    }
    const iid =
      members.length > 1
        ? [...members].sort((a, b) => rank(b.id) - rank(a.id) || a.id.localeCompare(b.id))[0]
        : undefined;
    for (const c of members) split.set(c.id, c === iid ? 'test-iid' : 'train');
  }
  return split;
}
