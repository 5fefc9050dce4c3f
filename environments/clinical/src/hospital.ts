import { ToolError } from '@toolgym/env-kit';
import type { ClinicalCase } from './case.ts';
import { type CatalogueTest, type ReportedValue, type TestCatalogue, testKey } from './catalogue.ts';

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

  /** Orders a test by name; unknown names are a model-visible error listing the closest names. */
  order(name: string, callIndex: number): OrderedTest {
    const test = this.catalogue.resolve(name);
    const caseOnlyName = test ? undefined : this.caseOnly.get(testKey(name));
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
