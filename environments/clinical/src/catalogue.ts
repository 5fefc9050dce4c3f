import { hashString, ToolGymError } from '@toolgym/protocol';
import { distance } from 'fastest-levenshtein';
import { type NormalSpec, PANEL_ROWS, TEST_ROWS, type TestCategory } from '../data/test-catalogue.ts';

export interface CatalogueTest {
  id: string;
  name: string;
  aliases: string[];
  /** Dollars. */
  cost: number;
  /** Tool calls until the result is back (0 = at once). */
  turns: number;
  category: TestCategory | 'panel';
  normal?: NormalSpec;
  /** Component test ids, for a panel. */
  components?: string[];
}

export type Sex = 'male' | 'female';

/** A value as the hospital reports it. */
export interface ReportedValue {
  testId: string;
  name: string;
  text: string;
  /** `H`/`L` when a number is outside the reference range, `A` for an abnormal case finding. */
  flag?: 'H' | 'L' | 'A';
}

export class CatalogueError extends ToolGymError {
  constructor(message: string, hint?: string) {
    super('invalid_catalogue', message, hint);
  }
}

/** Words that do not change which test is meant ("order a CBC please" = "cbc"). */
const FILLER = new Set([
  'a',
  'an',
  'the',
  'please',
  'test',
  'tests',
  'level',
  'levels',
  'order',
  'check',
  'get',
  'do',
  'of',
]);

/** Lower case, hyphens and punctuation to spaces, filler words out: the key a test name is looked up by. */
export function testKey(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter((w) => w.length > 0 && !FILLER.has(w))
    .join(' ');
}

const singular = (key: string) =>
  key
    .split(' ')
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w))
    .join(' ');

/** Spelled-out modalities as the catalogue names them ("computed tomography of the chest" → "ct chest"). */
const MODALITIES: Array<[RegExp, string]> = [
  [/\bcomputed tomograph(y|ic)\b/g, 'ct'],
  [/\bmagnetic resonance( imaging)?\b/g, 'mri'],
  [/\b(radiograph|radiographs|radiography|xray|xrays)\b/g, 'x ray'],
  [/\b(ultrasonography|sonography|sonogram)\b/g, 'ultrasound'],
];

/**
 * The words of a test name as lookups compare them: normalised like `testKey`, plurals folded,
 * spelled-out modalities abbreviated. Word sets let a longer name ("X-Ray_Knee", "skin biopsy of the
 * right shin") be matched by the words of a shorter one.
 */
export function testWords(name: string): string[] {
  let key = testKey(name);
  for (const [pattern, short] of MODALITIES) key = key.replace(pattern, short);
  return singular(key)
    .split(' ')
    .filter((w) => w.length > 0);
}

/**
 * The examinations the hospital offers: lookup by name or alias, suggestions for unknown names,
 * and normal results for tests a case says nothing about.
 */
export class TestCatalogue {
  private readonly byId = new Map<string, CatalogueTest>();
  private readonly byKey = new Map<string, CatalogueTest>();
  /** Every name's words, by each of its words, for `resolveLoosely`. */
  private readonly labelsByWord = new Map<string, Array<{ words: string[]; test: CatalogueTest }>>();

  constructor(tests: CatalogueTest[]) {
    for (const test of tests) {
      if (this.byId.has(test.id))
        throw new CatalogueError(`test id '${test.id}' appears twice in the catalogue`);
      this.byId.set(test.id, test);
    }
    for (const test of tests) {
      for (const component of test.components ?? []) {
        if (!this.byId.has(component))
          throw new CatalogueError(`panel '${test.id}' lists unknown component '${component}'`);
      }
      for (const label of [test.id.replace(/_/g, ' '), test.name, ...test.aliases]) {
        for (const key of new Set([testKey(label), singular(testKey(label))])) {
          const owner = this.byKey.get(key);
          if (owner && owner.id !== test.id) {
            throw new CatalogueError(
              `test name '${label}' of '${test.id}' is already a name of '${owner.id}'; names must be unique`,
            );
          }
          this.byKey.set(key, test);
        }
      }
    }
    for (const [key, test] of this.byKey) {
      const words = singular(key).split(' ');
      if (words.length === 1 && (words[0] as string).length < 3) continue;
      const label = { words, test };
      for (const word of new Set(words))
        this.labelsByWord.set(word, [...(this.labelsByWord.get(word) ?? []), label]);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  all(): CatalogueTest[] {
    return [...this.byId.values()];
  }

  get(id: string): CatalogueTest | undefined {
    return this.byId.get(id);
  }

  /** The test a name or alias means, or undefined. Exact after normalisation (and plural folding): no guessing. */
  resolve(name: string): CatalogueTest | undefined {
    const key = testKey(name);
    return this.byKey.get(key) ?? this.byKey.get(singular(key));
  }

  /**
   * The test a longer, imported name means: an exact lookup, else the catalogue name or alias whose
   * words all occur in it, the one with most words (written together in order beats scattered);
   * none when two tests tie. "X-Ray_Knee" is a limb X-ray, "CT scan of the chest" a CT chest,
   * "CT scan thorax and abdomen" nothing (two tie).
   */
  resolveLoosely(name: string): CatalogueTest | undefined {
    const exact = this.resolve(name);
    if (exact) return exact;
    const ordered = testWords(name);
    const words = new Set(ordered);
    const phrase = ` ${ordered.join(' ')} `;
    let best: { test: CatalogueTest; score: number; tied: boolean } | undefined;
    for (const word of words) {
      for (const { words: label, test } of this.labelsByWord.get(word) ?? []) {
        if (!label.every((w) => words.has(w))) continue;
        const score = 2 * label.length + (phrase.includes(` ${label.join(' ')} `) ? 1 : 0);
        if (!best || score > best.score) best = { test, score, tied: false };
        else if (score === best.score && best.test.id !== test.id) best.tied = true;
      }
    }
    return best && !best.tied ? best.test : undefined;
  }

  /** The panel a component belongs to (first listed), for crediting a component ordered alone. */
  panelsOf(id: string): string[] {
    return this.all()
      .filter((t) => t.components?.includes(id))
      .map((t) => t.id);
  }

  /**
   * Closest known test names to an unknown one: edit distance between normalised names, with a
   * bonus for shared words, so "trop level" suggests troponin and "chest scan" suggests CT chest.
   */
  suggest(name: string, count = 3): string[] {
    const key = testKey(name);
    const words = new Set(key.split(' '));
    const scored = new Map<string, number>();
    for (const [candidate, test] of this.byKey) {
      const shared = candidate.split(' ').filter((w) => words.has(w)).length;
      const score = distance(key, candidate) / Math.max(key.length, candidate.length, 1) - 0.3 * shared;
      const best = scored.get(test.id);
      if (best === undefined || score < best) scored.set(test.id, score);
    }
    return [...scored.entries()]
      .sort((a, b) => a[1] - b[1])
      .slice(0, count)
      .map(([id]) => this.byId.get(id)!.name);
  }

  /** A plausible normal result, deterministic for (salt, test) so that repeats agree. */
  normalValue(test: CatalogueTest, sex: Sex, salt: string): ReportedValue {
    const normal = test.normal;
    if (normal === undefined) throw new CatalogueError(`test '${test.id}' is a panel; report its components`);
    if (typeof normal === 'string') return { testId: test.id, name: test.name, text: normal };
    const [lo, hi] = rangeOf(normal, sex);
    const u = hashString(`${salt}:${test.id}`) / 4294967296;
    const value = lo + (hi - lo) * (0.25 + 0.5 * u);
    return this.numericValue(test, sex, roundTo(value, decimalsFor(lo, hi)));
  }

  /** A number the case gives, with unit, reference range and H/L flag. */
  numericValue(test: CatalogueTest, sex: Sex, value: number): ReportedValue {
    const normal = test.normal;
    if (normal === undefined || typeof normal === 'string') {
      return { testId: test.id, name: test.name, text: String(value) };
    }
    const [lo, hi] = rangeOf(normal, sex);
    const unit = Array.isArray(normal) ? normal[2] : normal.unit;
    const flag = value > hi ? 'H' : value < lo ? 'L' : undefined;
    const unitText = unit ? ` ${unit}` : '';
    return {
      testId: test.id,
      name: test.name,
      text: `${value}${unitText} (ref ${lo}-${hi}${unitText})`,
      ...(flag ? { flag } : {}),
    };
  }
}

function rangeOf(normal: Exclude<NormalSpec, string>, sex: Sex): [number, number] {
  if (Array.isArray(normal)) return [normal[0], normal[1]];
  return sex === 'female' ? normal.female : normal.male;
}

function decimalsFor(lo: number, hi: number): number {
  const step = (hi - lo) / 20;
  return Math.min(3, Math.max(0, Math.ceil(-Math.log10(step))));
}

function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

let shared: TestCatalogue | undefined;

/** The built-in catalogue (built once). */
export function defaultCatalogue(): TestCatalogue {
  shared ??= new TestCatalogue([
    ...TEST_ROWS.map(([id, name, aliases, cost, turns, category, normal]) => ({
      id,
      name,
      aliases: aliases.split('|'),
      cost,
      turns,
      category,
      normal,
    })),
    ...PANEL_ROWS.map(([id, name, aliases, cost, turns, components]) => ({
      id,
      name,
      aliases: aliases.split('|'),
      cost,
      turns,
      category: 'panel' as const,
      components,
    })),
  ]);
  return shared;
}
