/**
 * Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over the
 * target, fsync the directory. A reader sees the old file or the new one, never a mix; a crash
 * leaves at most a `*.tmp-<pid>-<n>` file behind, which no reader opens.
 */
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

let counter = 0;

export function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${counter++}`);
}

export async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempNameFor(target);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, target);
  await fsyncPath(path.dirname(target));
}
