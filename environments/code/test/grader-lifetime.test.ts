/**
 * Grader processes never hold a finished command open, and closing their pool stops every one it
 * started, those still grading included.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { GraderPool } from '../src/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Whether `pid` is a live process (an exited one waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('grader processes', () => {
  it('do not keep a command that left one behind from exiting, and end with it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures/left-behind-grader.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // A bound for a loaded machine, not a timing: a command held open by its grader never exits.
    const bound = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await exited;
    clearTimeout(bound);
    expect(code).toBe(0);
    const { pids } = JSON.parse(out.trim()) as { pids: number[] };
    expect(pids.length).toBeGreaterThan(0);
    // Orphaned, each grader reads the end of its input and exits.
    await vi.waitFor(() => expect(pids.filter(running)).toEqual([]), { timeout: 15_000, interval: 100 });
  }, 120_000);

  it('are all stopped when their pool closes, a grader taken and never given a job included', async () => {
    const pool = new GraderPool(1);
    const taken = await pool.take();
    await pool.warmUp();
    const pids = pool.pids();
    expect(pids).toContain(taken.pid);
    expect(pids.length).toBeGreaterThan(1);
    await pool.close();
    expect(taken.alive).toBe(false);
    expect(pool.pids()).toEqual([]);
    expect(pids.filter(running)).toEqual([]);
  });
});
