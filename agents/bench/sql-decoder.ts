/** What the memory benches share: the sql Agent-RLVR config's decoder, and the process's memory as Linux counts it. */
import { readFileSync } from 'node:fs';
import { BYTE_TOKENIZER_VOCAB_SIZE } from '../src/model/byte-tokenizer.ts';
import type { DecoderConfig } from '../src/model/decoder-config.ts';

/** configs/sql-agent-rlvr.yaml's `policy.model` (2,048 positions), with its eight tool tokens. */
export const SQL_DECODER: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE + 8,
  dModel: 64,
  nLayers: 2,
  nHeads: 4,
  dFF: 256,
  maxPositions: 2048,
  layerNormEps: 1e-5,
  positions: 'rope',
};

/** MB of a /proc/self/status field: VmRSS (resident now), VmHWM (its peak). */
export function statusMb(field: 'VmRSS' | 'VmHWM'): number {
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kb) / 1024;
}
