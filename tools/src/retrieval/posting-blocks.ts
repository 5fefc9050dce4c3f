import { closeSync, openSync, readSync } from 'node:fs';
import { RetrievalConfigError } from './types.ts';

/**
 * How a BM25 index lays out its postings: each term's postings, in document order, cut into
 * blocks of `BLOCK_SIZE`; a block is its documents then their term frequencies (the last block of
 * a term may be shorter). A term's blocks are contiguous, so reading one block or a run of them
 * is one read. Beside the postings, each block's last document and the highest score any of its
 * postings can add (Ding & Suel 2011, "Faster Top-k Document Retrieval Using Block-Max Indexes")
 * stay in memory, so a query can skip a block, or bound its score, without reading it.
 */
export const BLOCK_SIZE = 128;

/**
 * Past a cursor's last posting: greater than any document position. A small integer, so that
 * V8 keeps cursor positions unboxed; an index holds fewer documents than this.
 */
export const END = 2 ** 31 - 1;

/** Where posting words come from: an array in memory, or a file read on demand. */
export interface PostingSource {
  /** Words of postings [from, to) (whole blocks of one term): a view or a fresh copy. */
  read(from: number, to: number): Uint32Array;
  close(): void;
}

export function memoryPostings(postings: Uint32Array): PostingSource {
  return { read: (from, to) => postings.subarray(2 * from, 2 * to), close() {} };
}

/** Postings read with pread from the words at `byteOffset` of `file`. */
export function filePostings(file: string, byteOffset: number): PostingSource {
  const fd = openSync(file, 'r');
  let closed = false;
  return {
    read(from, to) {
      const out = new Uint32Array(2 * (to - from));
      const bytes = new Uint8Array(out.buffer);
      const at = byteOffset + 8 * from;
      for (let done = 0; done < bytes.length; ) {
        const n = readSync(fd, bytes, done, bytes.length - done, at + done);
        if (n === 0)
          throw new RetrievalConfigError('index_corrupt', `${file} ended early`, 'delete it to rebuild');
        done += n;
      }
      return out;
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

/**
 * A cursor over one term's postings that reads blocks only when it must look inside one:
 * `blockMaxAt` moves over blocks using their last documents alone (no read), `nextGEQ` and
 * `next` read the block they land in, with `readAhead` blocks after it in the same read.
 */
export class PostingCursor {
  /** The current posting's document; `END` past the last; stale after `blockMaxAt` moved on. */
  doc = -1;
  /** Blocks read together with the one a move needs: large for lists walked end to end. */
  readAhead = 1;
  private readonly blocks: number;
  private block = 0;
  private pos = 0;
  /** The block whose words `docsAt`/`tfsAt` point into (−1: none yet). */
  private selected = -1;
  private window: Uint32Array = new Uint32Array(0);
  private windowFirst = 0;
  private windowBlocks = 0;
  private docsAt = 0;
  private tfsAt = 0;
  private length = 0;

  constructor(
    private readonly source: PostingSource,
    /** Position of the term's first posting among all postings. */
    private readonly start: number,
    private readonly count: number,
    /** Position of the term's first block among all blocks. */
    private readonly firstBlock: number,
    private readonly blockLastDoc: Uint32Array,
    private readonly blockMaxScore: Float32Array,
  ) {
    this.blocks = Math.ceil(count / BLOCK_SIZE);
  }

  /** The current posting's term frequency (after `nextGEQ` or `next` found one). */
  tf(): number {
    return this.window[this.tfsAt + this.pos]!;
  }

  /**
   * Moves to the first block whose last document is ≥ `d`, reading nothing, and returns the
   * most any posting in it can score (0 past the last block).
   */
  blockMaxAt(d: number): number {
    const last = this.blockLastDoc;
    const base = this.firstBlock;
    while (this.block < this.blocks && last[base + this.block]! < d) this.block++;
    return this.block < this.blocks ? this.blockMaxScore[base + this.block]! : 0;
  }

  /** Moves to the first posting whose document is ≥ `d`. */
  nextGEQ(d: number): void {
    if (this.doc >= d) return;
    this.blockMaxAt(d);
    if (this.block === this.blocks) {
      this.doc = END;
      return;
    }
    if (this.selected !== this.block) {
      this.select();
      this.pos = 0;
    }
    // The block's last document is ≥ d: binary search for the first that is.
    const w = this.window;
    let lo = this.pos;
    let hi = this.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[this.docsAt + mid]! < d) lo = mid + 1;
      else hi = mid;
    }
    this.pos = lo;
    this.doc = w[this.docsAt + lo]!;
  }

  /** Moves to the next posting. */
  next(): void {
    if (++this.pos < this.length) {
      this.doc = this.window[this.docsAt + this.pos]!;
      return;
    }
    if (++this.block === this.blocks) {
      this.doc = END;
      return;
    }
    this.select();
    this.pos = 0;
    this.doc = this.window[this.docsAt]!;
  }

  /** Points at the words of block `this.block`, reading it (and `readAhead` more) when needed. */
  private select(): void {
    const b = this.block;
    if (b < this.windowFirst || b >= this.windowFirst + this.windowBlocks) {
      const end = Math.min(this.blocks, b + Math.max(1, this.readAhead));
      const from = this.start + b * BLOCK_SIZE;
      const to = Math.min(this.start + this.count, this.start + end * BLOCK_SIZE);
      this.window = this.source.read(from, to);
      this.windowFirst = b;
      this.windowBlocks = end - b;
    }
    this.length = Math.min(BLOCK_SIZE, this.count - b * BLOCK_SIZE);
    this.docsAt = 2 * BLOCK_SIZE * (b - this.windowFirst);
    this.tfsAt = this.docsAt + this.length;
    this.selected = b;
  }
}
