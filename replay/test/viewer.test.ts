import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReplayServer, serveReplay } from '../src/replay-server.ts';
import { TrajectoryStore } from '../src/store.ts';
import { makeGroup } from './generate.ts';

/** Screenshots are test artifacts: look at them (CI keeps .artifacts/). */
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.artifacts/replay');
const dir = mkdtempSync(path.join(tmpdir(), 'replay-viewer-'));
let store: TrajectoryStore;
let server: ReplayServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  store = TrajectoryStore.open(path.join(dir, 'store.db'), { durability: 'normal' });
  store.startRun('demo', { env: 'search@1 + sql@1', policy: 'onnx-small' });
  for (let step = 0; step < 8; step++) {
    for (let task = 0; task < 4; task++)
      store.appendGroup(makeGroup({ runId: 'demo', step, taskIndex: task }));
    // Named as the trainer names them: by namespace, an evaluation every other step.
    store.appendStepMetrics('demo', step, {
      'loss/policy': 1.2 / (step + 1),
      'loss/approx_kl': 0.002 * step,
      'reward/mean': 0.1 * step,
      'timing/step_s': 1.5,
      ...(step % 2 === 0 ? { 'eval/test/accuracy': 0.05 * step } : {}),
    });
  }
  const withAdvantages = multiTurn();
  const t = store.getTrajectory(withAdvantages.id);
  store.setAdvantages(
    t.id,
    t.lossMask.map((m, i) => (m ? Math.sin(i / 5) : 0)),
  );
  store.setRunStatus('demo', 'finished');
  store.startRun('live-run');
  store.appendGroup(makeGroup({ runId: 'live-run', step: 0, taskIndex: 0 }));
  server = await serveReplay({ store, viewer: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
}, 120_000);

/** A trajectory of the last step with tool calls (every turn but the last calls a tool). */
function multiTurn() {
  return store.queryTrajectories({ runId: 'demo', step: 7, limit: 100 }).find((s) => s.turns >= 2)!;
}

afterAll(async () => {
  await browser?.close();
  await server?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('viewer in Chromium', () => {
  it('opens a run and shows its reward and metric curves', async () => {
    await page.goto(server.url);
    await page.getByTestId('run-demo').click();
    await expect.poll(() => page.getByTestId('run-title').textContent()).toBe('demo');
    // uPlot draws on a canvas; the chart carries one point per step.
    await page.locator('[data-testid=reward-chart] canvas').waitFor();
    expect(await page.getByTestId('reward-chart').getAttribute('data-points')).toBe('8');
    await page.locator('[data-testid=metric-chart] canvas').waitFor();
    // The metric menu groups the names by namespace, and starts on held-out accuracy.
    const select = page.getByTestId('metric-select');
    expect(
      await select.locator('optgroup').evaluateAll((gs) => gs.map((g) => g.getAttribute('label'))),
    ).toEqual(['eval', 'loss', 'reward', 'timing']);
    expect(await select.locator('optgroup[label=loss] option').allTextContents()).toEqual([
      'loss/approx_kl',
      'loss/policy',
    ]);
    expect(await select.inputValue()).toBe('eval/test/accuracy');
    await select.selectOption('loss/policy');
    expect(await select.inputValue()).toBe('loss/policy');
    const legend = await page.getByTestId('reward-chart').textContent();
    expect(legend).toContain('mean');
    expect(await page.getByTestId('trajectory-row').count()).toBe(128);
    await page.screenshot({ path: path.join(ARTIFACTS, '01-run-curves.png') });
  });

  it('filters trajectories by environment and reward', async () => {
    await page.getByTestId('filter-env').selectOption('sql@1');
    await page.getByTestId('filter-min').fill('0.5');
    await page.getByTestId('filter-apply').click();
    const expected = store.queryTrajectories({ runId: 'demo', envId: 'sql@1', minReward: 0.5, limit: 1000 });
    await expect.poll(() => page.getByTestId('trajectory-row').count()).toBe(expected.length);
    const envCells = await page.locator('[data-testid=trajectory-row] td:nth-child(3)').allTextContents();
    expect(new Set(envCells)).toEqual(new Set(['sql@1']));
    await page.getByTestId('filter-env').selectOption('');
    await page.getByTestId('filter-min').fill('');
    await page.getByTestId('filter-apply').click();
    await expect.poll(() => page.getByTestId('trajectory-row').count()).toBe(128);
  });

  it('opens a trajectory: turns, tool calls and results, reward breakdown, tokens by logprob and mask', async () => {
    const target = multiTurn();
    const full = store.getTrajectory(target.id);
    await page.locator(`[data-testid=trajectory-row][data-id="${target.id}"]`).click();
    const detail = page.getByTestId('trajectory-detail');
    await detail.waitFor();
    expect(await detail.locator('h2').textContent()).toBe(target.id);
    expect(await detail.getByTestId('turn').count()).toBe(full.turns.length);
    const calls = full.turns.flatMap((t) => t.toolCalls);
    expect(await detail.getByTestId('tool-call').count()).toBe(calls.length);
    expect(calls.length).toBeGreaterThan(0);
    expect(await detail.getByTestId('tool-call').first().textContent()).toContain(
      JSON.stringify(calls[0]!.arguments),
    );
    expect(await detail.getByTestId('tool-call').first().textContent()).toContain(
      full.turns[0]!.toolResults[0]!.content,
    );
    // Each call shows its process reward (reward.steps, one per call in order).
    expect(await detail.getByTestId('step-reward').allTextContents()).toEqual(
      full.reward.steps!.map((s) => s.toFixed(3)),
    );
    const breakdown = await detail.getByTestId('reward-breakdown').textContent();
    expect(breakdown).toContain('correct');
    expect(breakdown).toContain(full.reward.total.toFixed(3));
    const tokens = detail.getByTestId('token-view');
    expect(await tokens.locator('.tokens .tok.sampled').count()).toBe(
      full.lossMask.filter((m) => m === 1).length,
    );
    expect(await tokens.locator('.tokens .tok.masked').count()).toBe(
      full.lossMask.filter((m) => m === 0).length,
    );
    await detail.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, '02-trajectory.png'), fullPage: true });
    // This one has advantages: colour by advantage.
    await tokens.locator('select').selectOption('advantage');
    await page.screenshot({ path: path.join(ARTIFACTS, '03-tokens-by-advantage.png'), fullPage: true });
  });

  it('shows the group of one task side by side', async () => {
    await page.getByTestId('open-group').click();
    const group = page.getByTestId('group-view');
    await group.waitFor();
    expect(await group.locator('.group-column').count()).toBe(4);
    await group.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, '04-group.png'), fullPage: true });
  });

  it('follows a running job live: a new trajectory arrives', async () => {
    await page.getByTestId('run-live-run').click();
    await expect.poll(() => page.getByTestId('trajectory-row').count()).toBe(4);
    await page.getByTestId('live-toggle').check();
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('live');
    const next = makeGroup({ runId: 'live-run', step: 1, taskIndex: 1 });
    store.appendGroup(next);
    store.appendStepMetrics('live-run', 1, { loss: 0.4 });
    const newId = next.trajectories[0]!.id;
    await page.locator(`[data-testid=trajectory-row][data-id="${newId}"].fresh`).waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('trajectory-row').count()).toBe(8);
    expect(await page.getByTestId('live-turns').textContent()).toContain('turn');
    await expect.poll(() => page.getByTestId('reward-chart').getAttribute('data-points')).toBe('2');
    await page.screenshot({ path: path.join(ARTIFACTS, '05-live.png') });
    expect(pageErrors).toEqual([]);
  });
});
