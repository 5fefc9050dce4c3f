import { ToolError } from '@toolgym/env-kit';
import type { ClinicalCase } from './case.ts';
import {
  type CatalogueTest,
  type ReportedValue,
  type TestCatalogue,
  testKey,
  testWords,
} from './catalogue.ts';

/** One test the doctor ordered, with its report. */
export interface OrderedTest {
  /** Catalogue id, or the case's own test name (imports). */
  id: string;
  name: string;
  cost: number;
  /** Tool-call index at which it was ordered and at which its result is back. */
  orderedAt: number;
  readyAt: number;
  lines: ReportedValue[];
  /** Some value is out of range, or the case itself reports this test. */
  abnormal: boolean;
  delivered: boolean;
}

const CASE_ONLY_TEST_COST = 50;

/**
 * The hospital side of an episode: looks tests up, reports them (the case's result, or a normal
 * one from the catalogue), bills them, and holds slow results back until they are ready.
 */
export class Hospital {
  readonly ordered: OrderedTest[] = [];
  /** Test names of the case that are not in the catalogue (AgentClinic imports), by lookup key. */
  private readonly caseOnly = new Map<string, string>();

  constructor(
    readonly clinicalCase: ClinicalCase,
    readonly catalogue: TestCatalogue,
    readonly delays: boolean,
  ) {
    for (const name of Object.keys(clinicalCase.results)) {
      if (!catalogue.get(name)) this.caseOnly.set(testKey(name), name);
    }
  }

  get spent(): number {
    return this.ordered.reduce((sum, t) => sum + t.cost, 0);
  }

  /**
   * The case's own test (imports) an order means: its exact name, or, when the order names no
   * catalogue test the case reports, the one case test whose name holds every word of the order
   * ("lymph node biopsy" finds "Biopsy: Cervical Lymph Node"). A catalogue test the case reports wins.
   */
  private caseOnlyFor(name: string, test: CatalogueTest | undefined): string | undefined {
    const exact = this.caseOnly.get(testKey(name));
    if (exact) return exact;
    if (this.caseOnly.size === 0 || (test && this.reports(test))) return undefined;
    const words = testWords(name);
    if (words.length === 0) return undefined;
    const holders = [...this.caseOnly.values()].filter((own) => {
      const ownWords = new Set(testWords(own));
      return words.every((w) => ownWords.has(w));
    });
    return holders.length === 1 ? holders[0] : undefined;
  }

  /** Whether the case reports this test, or a component of it. */
  private reports(test: CatalogueTest): boolean {
    const results = this.clinicalCase.results;
    return results[test.id] !== undefined || (test.components ?? []).some((id) => results[id] !== undefined);
  }

  /** Orders a test by name; unknown names are a model-visible error listing the closest names. */
  order(name: string, callIndex: number): OrderedTest {
    const resolved = this.catalogue.resolve(name);
    const caseOnlyName = this.caseOnlyFor(name, resolved);
    const test = caseOnlyName ? undefined : resolved;
    if (!test && !caseOnlyName) {
      const suggestions = this.catalogue.suggest(name);
      throw new ToolError(
        `'${name}' is not available in this hospital. Closest available tests: ${suggestions.join(', ')}.`,
        'test_not_available',
      );
    }
    const id = test?.id ?? (caseOnlyName as string);
    const previous = this.ordered.find((t) => t.id === id);
    if (previous) return previous;
    const ordered = test
      ? this.report(test, callIndex)
      : this.reportCaseOnly(caseOnlyName as string, callIndex);
    this.ordered.push(ordered);
    return ordered;
  }

  private report(test: CatalogueTest, callIndex: number): OrderedTest {
    const sex = this.clinicalCase.sex;
    const salt = this.clinicalCase.id;
    // A case may report a panel as a whole (an imported "Urinalysis: ..."); then that is the report.
    const wholePanel = test.components !== undefined && this.clinicalCase.results[test.id] !== undefined;
    const components = wholePanel
      ? [test]
      : (test.components?.map((id) => this.catalogue.get(id) as CatalogueTest) ?? [test]);
    let abnormal = false;
    const lines = components.map((component) => {
      const given = this.clinicalCase.results[component.id];
      if (given === undefined) return this.catalogue.normalValue(component, sex, salt);
      abnormal = true;
      if (typeof given === 'number') return this.catalogue.numericValue(component, sex, given);
      return { testId: component.id, name: component.name, text: given };
    });
    const turns = this.delays ? test.turns : 0;
    return {
      id: test.id,
      name: test.name,
      cost: test.cost,
      orderedAt: callIndex,
      readyAt: callIndex + turns,
      lines,
      abnormal,
      delivered: false,
    };
  }

  private reportCaseOnly(name: string, callIndex: number): OrderedTest {
    const text = String(this.clinicalCase.results[name]);
    return {
      id: name,
      name,
      cost: CASE_ONLY_TEST_COST,
      orderedAt: callIndex,
      readyAt: callIndex,
      lines: [{ testId: name, name, text }],
      abnormal: true,
      delivered: false,
    };
  }

  /** Results that are ready at `callIndex` and not yet shown, marked shown. */
  collectReady(callIndex: number): OrderedTest[] {
    const ready = this.ordered.filter((t) => !t.delivered && t.readyAt <= callIndex);
    for (const t of ready) t.delivered = true;
    return ready;
  }
}

export function renderReport(test: OrderedTest): string {
  const body = test.lines.map((l) => `  ${l.name}: ${l.text}${l.flag ? ` [${l.flag}]` : ''}`).join('\n');
  return `${test.name} — result:\n${body}`;
}
