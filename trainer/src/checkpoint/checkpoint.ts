/**
 * Atomic checkpoints. One checkpoint is a directory `<root>/step-<NNNNNNNN>/` holding
 *
 *   tensors.safetensors   every tensor (weights, optimiser moments), float32
 *   state.json            everything else, JSON (step, RNG state, data cursor, config, …)
 *   manifest.json         { format, step, files: { name: { bytes, sha256 } } } — written last
 *
 * It is built in a hidden temporary directory (each file fsynced, the manifest last), then renamed
 * into place and the parent directory fsynced. A reader takes the newest directory whose manifest
 * verifies (sizes and SHA-256 of every file); a directory that fails (killed mid-write, truncated,
 * bit-flipped) is reported and skipped, never loaded. The newest `keep` good checkpoints are kept,
 * so a bad newest one falls back to the one before it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ToolGymError } from '@toolgym/protocol';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../export/safetensors.ts';
import { fsyncPath, tempNameFor, writeFileAtomic } from './atomic-file.ts';

export const CHECKPOINT_FORMAT = 'toolgym-checkpoint@1';
const TENSORS = 'tensors.safetensors';
const STATE = 'state.json';
const MANIFEST = 'manifest.json';

/** A checkpoint that fails verification; a reader skips it for the newest intact one. */
export class CheckpointError extends ToolGymError {
  constructor(message: string) {
    super('invalid_checkpoint', message, 'resume from an older checkpoint, or start the run again');
  }
}

export interface CheckpointContent<S = unknown> {
  /** JSON-serialisable state. */
  state: S;
  tensors: Record<string, SafeTensor>;
}

export interface LoadedCheckpoint<S = unknown> extends CheckpointContent<S> {
  step: number;
  dir: string;
  /** Newer checkpoint directories that failed verification, with the reason. */
  skipped: Array<{ dir: string; reason: string }>;
}

interface Manifest {
  format: typeof CHECKPOINT_FORMAT;
  step: number;
  files: Record<string, { bytes: number; sha256: string }>;
}

export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Writes checkpoint `step` under `root` atomically; prunes all but the newest `keep` (default 2). */
export async function writeCheckpoint<S>(
  root: string,
  step: number,
  content: CheckpointContent<S>,
  options: { keep?: number } = {},
): Promise<string> {
  if (!Number.isInteger(step) || step < 0)
    throw new CheckpointError(`checkpoint step must be an integer ≥ 0, got ${step}`);
  await mkdir(root, { recursive: true });
  const final = path.join(root, checkpointDirName(step));
  const temp = tempNameFor(final);
  await mkdir(temp);
  const files: Array<[string, Uint8Array]> = [
    [TENSORS, encodeSafetensors(content.tensors, { format: CHECKPOINT_FORMAT, step: String(step) })],
    [STATE, Buffer.from(`${JSON.stringify(content.state)}\n`, 'utf8')],
  ];
  const manifest: Manifest = { format: CHECKPOINT_FORMAT, step, files: {} };
  for (const [name, bytes] of files) {
    await writeFileAtomic(path.join(temp, name), bytes);
    manifest.files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  }
  await writeFileAtomic(path.join(temp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  // A checkpoint of this step may exist (a resumed run redoing it): the old one goes first. A crash
  // between the two renames leaves the previous step's checkpoint as the newest good one.
  await rm(final, { recursive: true, force: true });
  await rename(temp, final);
  await fsyncPath(root);
  await prune(root, options.keep ?? 2);
  return final;
}

/** Throws a CheckpointError saying what is wrong unless `dir` is a complete, intact checkpoint. */
export async function verifyCheckpoint(
  dir: string,
): Promise<{ manifest: Manifest; bytes: Record<string, Uint8Array> }> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch (error) {
    throw new CheckpointError(
      `${dir}: no readable ${MANIFEST} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}) — incomplete checkpoint`,
    );
  }
  if (manifest.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(`${dir}: format ${manifest.format}, expected ${CHECKPOINT_FORMAT}`);
  const bytes: Record<string, Uint8Array> = {};
  for (const name of [TENSORS, STATE]) {
    const expected = manifest.files?.[name];
    if (!expected) throw new CheckpointError(`${dir}: the manifest lists no ${name}`);
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(path.join(dir, name)));
    } catch {
      throw new CheckpointError(`${dir}: ${name} is missing`);
    }
    if (data.length !== expected.bytes)
      throw new CheckpointError(
        `${dir}: ${name} has ${data.length} bytes, the manifest says ${expected.bytes} (truncated?)`,
      );
    if (sha256(data) !== expected.sha256)
      throw new CheckpointError(`${dir}: ${name} fails its SHA-256 check (corrupted)`);
    bytes[name] = data;
  }
  return { manifest, bytes };
}

/** All checkpoint directories under `root`, newest step first. */
async function listCheckpoints(root: string): Promise<Array<{ step: number; dir: string }>> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, match: /^step-(\d{8})$/.exec(name) }))
    .filter((x) => x.match)
    .map((x) => ({ step: Number(x.match![1]), dir: path.join(root, x.name) }))
    .sort((a, b) => b.step - a.step);
}

/** The newest intact checkpoint under `root`, or undefined when there is none. */
export async function readLatestCheckpoint<S = unknown>(
  root: string,
): Promise<LoadedCheckpoint<S> | undefined> {
  const skipped: Array<{ dir: string; reason: string }> = [];
  for (const { step, dir } of await listCheckpoints(root)) {
    try {
      const { bytes } = await verifyCheckpoint(dir);
      const state = JSON.parse(Buffer.from(bytes[STATE]!).toString('utf8')) as S;
      const { tensors } = decodeSafetensors(bytes[TENSORS]!, path.join(dir, TENSORS));
      return { step, dir, state, tensors, skipped };
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      skipped.push({ dir, reason: error.message });
    }
  }
  return undefined;
}

/** Keeps the newest `keep` intact checkpoints; removes older ones and temporaries left by crashes. */
async function prune(root: string, keep: number): Promise<void> {
  const names = await readdir(root);
  for (const name of names) {
    if (name.startsWith('.step-') && name.includes('.tmp-') && !name.includes(`.tmp-${process.pid}-`)) {
      await rm(path.join(root, name), { recursive: true, force: true });
    }
  }
  let good = 0;
  for (const { dir } of await listCheckpoints(root)) {
    const intact = await stat(path.join(dir, MANIFEST)).then(
      () => true,
      () => false,
    );
    if (intact && good < keep) {
      good++;
      continue;
    }
    if (good >= keep) await rm(dir, { recursive: true, force: true });
  }
}
