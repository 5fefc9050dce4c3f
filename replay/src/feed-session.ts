import {
  FEED_CLOSE_CODES,
  type FeedEventMessage,
  type FeedServerMessage,
  type FeedSubscribe,
  REPLAY_FEED_VERSION,
  trajectoryJson,
} from '@toolgym/protocol';
import type { WebSocket } from 'ws';
import { eventToMessage, type FeedEvent, type StoredEvent } from './feed-events.ts';
import type { FramePage, TrajectoryStore } from './store.ts';

export interface FeedLimits {
  /** A live client whose unsent bytes exceed this is told to resume from its cursor and closed. */
  maxBufferedBytes: number;
  /** History (catch-up and replay) is read from the store only while the client's buffer is below this. */
  readAheadBytes: number;
  /** Events read from the store per query. */
  pageSize: number;
}

/** Corked frames are written to the socket once they hold this many bytes. */
const CORK_FLUSH_BYTES = 64 * 1024;

type Phase = 'catching-up' | 'live' | 'replaying' | 'closed';

/**
 * One subscribed websocket client. History is pulled from the store page by page, paced by the
 * client's own buffer (a slow reader only slows itself). Once caught up, the client is `live`
 * and receives what the server broadcasts; if it then reads slower than events arrive, its buffer
 * hits `maxBufferedBytes` and it is told where to resume instead of holding server memory.
 */
export class FeedSession {
  private phase: Phase = 'catching-up';
  /** Cursor of the last committed event handled for this client (sent, or passed over by its filter). */
  private lastCursor: number;
  /** When the event replayed last was logged (`paced`). */
  private replayedAt: number | undefined;
  /** Per run, the highest seq handled (events before their commit have no cursor yet). */
  private readonly seen: Map<string, number>;
  private terminateTimer: NodeJS.Timeout | undefined;
  /** Event frames of the batch under way (`corked`), written at once; its bytes with their headers. */
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private batching = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly store: TrajectoryStore,
    readonly subscription: FeedSubscribe,
    private readonly limits: FeedLimits,
    /** The event's feed frame (UTF-8 JSON), shared by every session: serialised once per event, not per client. */
    private readonly render: (event: FeedEvent) => Buffer,
    /** A page of history after a cursor, shared by sessions reading the same stretch of the log. */
    private readonly readPage: (after: number, runId: string | undefined) => readonly StoredEvent[],
    /** Events emitted by the writer and not yet committed, in the order they were emitted. */
    private readonly uncommitted: () => Iterable<FeedEvent>,
    /** A page of stored frames after a cursor, for a replay that filters nothing (`framesAfter`); with `times` when paced. */
    private readonly readFrames?: (
      after: number,
      runId: string | undefined,
      times: boolean,
    ) => FramePage | undefined,
  ) {
    this.lastCursor = subscription.after;
    this.seen = new Map(Object.entries(subscription.seqs));
    ws.once('close', () => this.stop());
  }

  /** Bytes queued for this client and not yet written to its socket. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount + this.batchBytes;
  }

  /** Closed or cut off (an overflowed client may still be reading what was queued before). */
  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  get isLive(): boolean {
    return this.phase === 'live';
  }

  /** Send `hello`, then history; live sessions then follow, replays end. */
  async start(): Promise<void> {
    this.send({ type: 'hello', version: REPLAY_FEED_VERSION, head: this.store.head() });
    if (this.subscription.mode === 'replay') {
      this.phase = 'replaying';
      await this.replay();
    } else {
      await this.catchUp();
    }
  }

  private async catchUp(): Promise<void> {
    while (this.phase === 'catching-up') {
      await this.waitForRoom();
      if (this.phase !== 'catching-up') return;
      const events = this.readPage(this.lastCursor, this.subscription.runId);
      if (events.length === 0) {
        // Synchronously after an empty read: everything committed so far was handled, and the
        // broadcaster only sends cursors above lastCursor; the events emitted and not yet
        // committed follow, each run's from the seq after its last stored one, so there is neither
        // gap nor duplicate.
        this.phase = 'live';
        this.corked(() => this.broadcast([...this.uncommitted()]));
        this.send({ type: 'caught-up', cursor: this.lastCursor });
        return;
      }
      for (const event of events) {
        // A page of whole trajectories (`full`) is megabytes: the read-ahead bound holds per event,
        // not per page. The client's next page starts after the last event handled.
        if (this.bufferedBytes > this.limits.readAheadBytes) break;
        this.deliver(event);
      }
    }
  }

  private async replay(): Promise<void> {
    const plain = this.sendsEveryFrame();
    // Only a replay at a speed looks at when each event was logged.
    const timed = this.subscription.speed > 0;
    while (this.phase === 'replaying') {
      // A replay that filters nothing sends each stored frame as it is: it reads only those.
      const page = plain ? this.readFrames?.(this.lastCursor, this.subscription.runId, timed) : undefined;
      if (page) {
        if (page.count === 0) break;
        this.cork();
        let end = 0;
        for (let i = 0; i < page.count; i++) {
          const start = end;
          end += page.lengths[i]!;
          const wait = this.paced(page.at?.[i] ?? 0);
          if (wait) await wait;
          if (this.phase !== 'replaying') return;
          this.sendFrame(page.bytes.subarray(start, end));
          this.flushIfLarge();
        }
        this.lastCursor = page.lastCursor;
        this.uncork();
        continue;
      }
      const events = this.readPage(this.lastCursor, this.subscription.runId);
      if (events.length === 0) break;
      // A page's frames go to the socket in one write (the kernel is asked once, not per frame).
      this.cork();
      for (const event of events) {
        if (!this.matches(event)) {
          this.lastCursor = event.cursor;
          continue;
        }
        const wait = this.paced(event.at);
        if (wait) await wait;
        if (this.phase !== 'replaying') return;
        this.deliver(event);
        this.flushIfLarge();
      }
      this.uncork();
    }
    if (this.phase !== 'replaying') return;
    this.send({ type: 'end', cursor: this.lastCursor });
    this.phase = 'closed';
    this.ws.close(FEED_CLOSE_CODES.replayEnded, 'replay ended');
  }

  /**
   * What must pass before the event logged `at` is replayed: its pause at the replay's speed after
   * the one before, then room in the client's buffer if it is behind. Undefined when nothing must
   * (most events): an await per event would cost more than its send.
   */
  private paced(at: number): Promise<void> | undefined {
    const { speed, maxGapMs } = this.subscription;
    const previous = this.replayedAt;
    this.replayedAt = at;
    const pause =
      speed > 0 && previous !== undefined ? Math.min(Math.max(0, (at - previous) / speed), maxGapMs) : 0;
    if (pause <= 0 && this.bufferedBytes <= this.limits.readAheadBytes) return undefined;
    this.uncork();
    return (async () => {
      if (pause > 0) await sleep(pause);
      if (this.bufferedBytes > this.limits.readAheadBytes) await this.waitForRoom();
    })();
  }

  /**
   * Whether this client is sent every event of its run(s) as its stored frame: no filter, no whole
   * trajectories, no seqs it already has (`deliver` would then look at nothing but the frame).
   */
  private sendsEveryFrame(): boolean {
    const { filter, full, seqs } = this.subscription;
    return (
      !full && Object.values(filter).every((value) => value === undefined) && Object.keys(seqs).length === 0
    );
  }

  /**
   * Called by the server with new events: committed ones in cursor order, or emitted ones before
   * their commit in seq order. An event this client was sent before its commit is passed over.
   */
  broadcast(events: readonly FeedEvent[]): void {
    if (this.phase !== 'live') return;
    for (const event of events) {
      if (!this.wants(event)) continue;
      this.deliver(event);
      this.flushIfLarge();
      if (this.bufferedBytes > this.limits.maxBufferedBytes) {
        this.overflow();
        return;
      }
    }
  }

  /** A control frame for live clients of `runIds` (every run's when undefined): commits and failed writes. */
  notify(frame: Buffer, runIds: readonly string[] | undefined): void {
    if (this.phase !== 'live' || this.ws.readyState !== this.ws.OPEN) return;
    const { runId } = this.subscription;
    if (runId !== undefined && runIds !== undefined && !runIds.includes(runId)) return;
    this.writeBatch();
    this.ws.send(frame, { binary: false });
  }

  /** The new events of this client's run(s) by cursor (`deliver` passes over those handled by seq). */
  private wants(event: FeedEvent): boolean {
    if (event.cursor !== undefined && event.cursor <= this.lastCursor) return false;
    return this.subscription.runId === undefined || event.runId === this.subscription.runId;
  }

  /** Hold this client's frames until `fn` is done, then write them at once. */
  corked(fn: () => void): void {
    this.cork();
    try {
      fn();
    } finally {
      this.uncork();
    }
  }

  private cork(): void {
    this.batching = true;
  }

  private uncork(): void {
    this.batching = false;
    this.writeBatch();
  }

  /**
   * A batch beyond `CORK_FLUSH_BYTES` goes to the kernel now: batching saves a write per frame on
   * small frames, and must not hold a batch in the process where the kernel would take it (the
   * slow-client bound counts what the process holds).
   */
  private flushIfLarge(): void {
    if (this.batchBytes >= CORK_FLUSH_BYTES) this.writeBatch();
  }

  /**
   * An event frame (UTF-8 JSON, shared by every client) to this client: into the batch under way,
   * or sent at once. A batch's frames go to the socket as one buffer, each behind the websocket
   * header `ws` would write (a text frame, unmasked from a server), where `ws.send` writes two
   * buffers per frame. Only without extensions: a compressed connection's frames are `ws`'s to make.
   */
  private sendFrame(frame: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (!this.batching || this.ws.extensions !== '' || !this.socket()) {
      this.ws.send(frame, { binary: false });
      return;
    }
    this.batch.push(frame);
    this.batchBytes += headerLength(frame.length) + frame.length;
  }

  /** The batch to the socket, in one write. */
  private writeBatch(): void {
    if (this.batch.length === 0) return;
    const bytes = Buffer.allocUnsafe(this.batchBytes);
    let at = 0;
    for (const frame of this.batch) {
      at = writeTextFrameHeader(bytes, at, frame.length);
      at += frame.copy(bytes, at);
    }
    this.batch = [];
    this.batchBytes = 0;
    const socket = this.socket();
    if (this.ws.readyState === this.ws.OPEN && socket) socket.write(bytes);
  }

  private socket(): import('node:net').Socket | undefined {
    return (this.ws as unknown as { _socket?: import('node:net').Socket })._socket;
  }

  private overflow(): void {
    this.send({
      type: 'overflow',
      resumeAfter: this.lastCursor,
      bufferLimitBytes: this.limits.maxBufferedBytes,
    });
    this.phase = 'closed';
    this.ws.close(
      FEED_CLOSE_CODES.slowConsumer,
      'slow consumer: resume from the cursor in the overflow message',
    );
    // A client that does not even read its close frame is dropped, freeing its buffer.
    this.terminateTimer = setTimeout(() => this.ws.terminate(), 10_000);
    this.terminateTimer.unref();
  }

  private deliver(event: FeedEvent): void {
    if (event.cursor !== undefined) this.lastCursor = event.cursor;
    if (event.seq !== null) {
      // Sent before its commit (on this connection, or on one the client resumes from): passed over.
      if (event.seq <= (this.seen.get(event.runId) ?? 0)) return;
      this.seen.set(event.runId, event.seq);
    }
    if (!this.matches(event)) return;
    if (event.type === 'trajectory' && this.subscription.full) {
      const message: FeedEventMessage = eventToMessage(event);
      if (message.type === 'trajectory')
        message.trajectory = event.trajectory ?? this.store.getTrajectory(message.summary.id);
      this.send(message);
      return;
    }
    this.sendFrame(this.render(event));
  }

  private matches(event: FeedEvent): boolean {
    const { filter } = this.subscription;
    if (filter.types && !filter.types.includes(event.type)) return false;
    if (event.type === 'run' || event.type === 'step-metrics') return true;
    if (filter.envId !== undefined && event.envId !== filter.envId) return false;
    if (filter.taskId !== undefined && event.taskId !== filter.taskId) return false;
    // A running episode has no reward yet: a reward filter passes only episodes that have one.
    if (filter.minReward !== undefined && !(event.reward !== null && event.reward >= filter.minReward))
      return false;
    if (filter.maxReward !== undefined && !(event.reward !== null && event.reward <= filter.maxReward))
      return false;
    return true;
  }

  private send(message: FeedServerMessage): void {
    this.writeBatch();
    if (this.ws.readyState !== this.ws.OPEN) return;
    // A full trajectory's typed arrays go out as arrays of numbers.
    const json =
      message.type === 'trajectory' && message.trajectory
        ? { ...message, trajectory: trajectoryJson(message.trajectory) }
        : message;
    this.ws.send(JSON.stringify(json));
  }

  /** Pull-side backpressure: wait until the client has read most of what it was sent. */
  private async waitForRoom(): Promise<void> {
    while (this.phase !== 'closed' && this.bufferedBytes > this.limits.readAheadBytes) {
      // The moment the kernel takes more (no polling delay), or a short pause if the socket is gone.
      const socket = this.socket();
      if (socket?.writableNeedDrain)
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            socket.off('drain', done);
            resolve();
          };
          const timer = setTimeout(done, 50);
          socket.once('drain', done);
        });
      else await sleep(1);
    }
  }

  stop(): void {
    this.phase = 'closed';
    if (this.terminateTimer) clearTimeout(this.terminateTimer);
  }
}

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** The header of an unmasked, final websocket text frame of `length` bytes (RFC 6455, 5.2), at `at`; where it ends. */
function writeTextFrameHeader(bytes: Buffer, at: number, length: number): number {
  bytes[at] = 0x81;
  if (length < 126) {
    bytes[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    bytes[at + 1] = 126;
    bytes.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  bytes[at + 1] = 127;
  bytes.writeBigUInt64BE(BigInt(length), at + 2);
  return at + 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
