import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReplayServer, serveReplay } from '../src/replay-server.ts';
import { TrajectoryStore } from '../src/store.ts';
import { StoreWriter } from '../src/store-writer.ts';
import { makeGroup, pieceOf, turnsOf } from './generate.ts';

/** Screenshots are test artifacts: look at them (CI keeps .artifacts/). */
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.artifacts/replay');
const dir = mkdtempSync(path.join(tmpdir(), 'replay-viewer-'));
let store: TrajectoryStore;
let server: ReplayServer;
/** The rollout's writer thread: its events reach the viewer before they are committed. */
let writer: StoreWriter;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  store = TrajectoryStore.open(path.join(dir, 'store.db'), { durability: 'normal' });
  store.startRun('demo', { env: 'search@1 + sql@1', policy: 'onnx-small' });
  for (let step = 0; step < 8; step++) {
    for (let task = 0; task < 4; task++) {
      const group = makeGroup({ runId: 'demo', step, taskIndex: task });
      // Streamed turn by turn as a rollout does: the store learns each token's text piece.
      store.appendTurns(group.trajectories.flatMap(turnsOf));
      store.appendGroup(group);
    }
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
    Array.from(t.lossMask, (m, i) => (m ? Math.sin(i / 5) : 0)),
  );
  store.setRunStatus('demo', 'finished');
  store.startRun('live-run');
  store.appendGroup(makeGroup({ runId: 'live-run', step: 0, taskIndex: 0 }));
  writer = await StoreWriter.open(store.path, { durability: 'normal' });
  server = await serveReplay({ store, writer, viewer: true });
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
  await writer?.close();
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
    // Each token is its decoded text piece; its id, mask and both logprobs are on hover.
    await expect
      .poll(() => tokens.locator('.tokens .tok').first().textContent())
      .toBe(pieceOf(full.tokens[0]!).replace('\n', '↵\n'));
    const texts = await tokens.locator('.tokens .tok').allTextContents();
    expect(texts.join('')).toBe(Array.from(full.tokens, (id) => pieceOf(id).replace('\n', '↵\n')).join(''));
    const i = full.lossMask.indexOf(1);
    const title = await tokens.locator('.tokens .tok').nth(i).getAttribute('title');
    expect(title).toContain(`id ${full.tokens[i]}`);
    expect(title).toContain('mask 1');
    expect(title).toContain(`logprob ${full.logprobs[i]!.toFixed(3)}`);
    expect(title).toContain(`policy logprob ${full.policyLogprobs![i]!.toFixed(3)}`);
    // Colour by loss mask: every sampled token one colour, no masked one coloured.
    await tokens.getByTestId('colour-by').selectOption('mask');
    const backgrounds = await tokens
      .locator('.tokens .tok.sampled')
      .evaluateAll((els) => [...new Set(els.map((e) => (e as HTMLElement).style.background))]);
    expect(backgrounds).toHaveLength(1);
    expect(
      await tokens
        .locator('.tokens .tok.masked')
        .evaluateAll((els) => els.filter((e) => (e as HTMLElement).style.background).length),
    ).toBe(0);
    await tokens.getByTestId('colour-by').selectOption('policy-logprob');
    await tokens.getByTestId('colour-by').selectOption('logprob');
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

  it('compares two trajectories of the group token by token', async () => {
    const target = store.getTrajectory(multiTurn().id);
    const members = store.getGroup(target.groupId!).trajectories;
    const [a, b] = [members[0]!, members[1]!];
    const group = page.getByTestId('group-view');
    await group.getByTestId('compare-a').selectOption(a.id);
    await group.getByTestId('compare-b').selectOption(b.id);
    const compare = group.getByTestId('token-compare');
    await compare.waitFor();
    const n = Math.max(a.tokens.length, b.tokens.length);
    await expect.poll(() => compare.getByTestId('token-pair').count()).toBe(n);
    const differing = Array.from({ length: n }, (_, i) => a.tokens[i] !== b.tokens[i]).filter(Boolean).length;
    expect(await compare.locator('[data-testid=token-pair][data-same=false]').count()).toBe(differing);
    let shared = 0;
    while (a.tokens[shared] === b.tokens[shared]) shared++;
    expect(await compare.getByTestId('compare-summary').textContent()).toContain(
      `first ${shared} tokens shared, ${differing} positions differ`,
    );
    // A pair shows each side's piece, top and bottom.
    const firstDiff = compare.locator('[data-testid=token-pair][data-same=false]').first();
    await expect
      .poll(() => firstDiff.locator('.tok').allTextContents())
      .toEqual([a.tokens[shared]!, b.tokens[shared]!].map((id) => pieceOf(id).replace('\n', '↵\n')));
    await compare.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, '04b-compare.png'), fullPage: true });
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
    await expect.poll(() => page.getByTestId('reward-chart').getAttribute('data-points')).toBe('2');
    await page.screenshot({ path: path.join(ARTIFACTS, '05-live.png') });
    expect(pageErrors).toEqual([]);
  });

  it("shows a running episode's turns one by one, until its group commits", async () => {
    const next = makeGroup({ runId: 'live-run', step: 2, taskIndex: 2 });
    const episode = next.trajectories.find((t) => t.turns.length >= 3)!;
    const turns = turnsOf(episode);
    const card = page.locator(`[data-testid=running-episode][data-id="${episode.id}"]`);
    for (const [k, turn] of turns.entries()) {
      void writer.appendTurn(turn);
      await expect.poll(() => card.getByTestId('running-turn').count(), { timeout: 10_000 }).toBe(k + 1);
      expect(await card.getByTestId('running-turn').nth(k).textContent()).toContain(
        `turn ${turn.turn.index}: ${turn.turn.text}`,
      );
      if (k === 0) await page.screenshot({ path: path.join(ARTIFACTS, '06-running-episode.png') });
    }
    expect(await card.locator('.badge').textContent()).toBe('running');
    // Its partial record: turns and tokens so far, pieces and all.
    await card.locator('button.link').click();
    const partial = page.getByTestId('partial-detail');
    await partial.waitFor();
    expect(await partial.getByTestId('turn').count()).toBe(turns.length);
    expect(await partial.locator('.tokens .tok').count()).toBe(episode.tokens.length);
    // The group commits: the episode leaves the running list and joins the trajectories.
    await writer.appendGroup(next);
    const row = page.locator(`[data-testid=trajectory-row][data-id="${episode.id}"]`);
    await page
      .locator(`[data-testid=trajectory-row][data-id="${episode.id}"].fresh`)
      .waitFor({ timeout: 10_000 });
    await expect.poll(() => card.count()).toBe(0);
    // Sent again, the group is refused after its events went out: the list keeps the one stored.
    await expect(writer.appendGroup(next)).rejects.toMatchObject({ code: 'duplicate_id' });
    await row.click();
    await page.getByTestId('trajectory-detail').waitFor();
    expect(await row.count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it('marks an episode unfinished when its writer stops mid-episode', async () => {
    const stuck = makeGroup({ runId: 'live-run', step: 3, taskIndex: 3 }).trajectories[0]!;
    store.appendTurns(turnsOf(stuck).slice(0, 1));
    const card = page.locator(`[data-testid=running-episode][data-id="${stuck.id}"]`);
    await expect.poll(() => card.getByTestId('running-turn').count(), { timeout: 10_000 }).toBe(1);
    store.markUnfinished({ runId: 'live-run', reason: 'the trainer was killed' });
    await expect.poll(() => card.locator('.badge').textContent(), { timeout: 10_000 }).toBe('unfinished');
    expect(await card.textContent()).toContain('the trainer was killed');
    // A viewer opened afterwards lists it too.
    await page.reload();
    await page.getByTestId('run-live-run').click();
    await expect.poll(() => card.locator('.badge').textContent(), { timeout: 10_000 }).toBe('unfinished');
    await card.locator('button.link').click();
    await expect.poll(() => page.getByTestId('partial-status').textContent()).toBe('unfinished');
    await page.screenshot({ path: path.join(ARTIFACTS, '07-unfinished.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
