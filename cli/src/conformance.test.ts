import { checkEnvironment, discoverEnvironments } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';

const registry = await discoverEnvironments();

describe('every registered environment passes the conformance check', () => {
  it('finds the workspace environments without manual wiring', () => {
    expect(registry.list().map((d) => d.id)).toContain('compose');
  });

  it.each(registry.list().map((d) => [d.ref, d] as const))('%s', async (_ref, definition) => {
    const report = await checkEnvironment(definition);
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(9);
  }, 180_000);
});
