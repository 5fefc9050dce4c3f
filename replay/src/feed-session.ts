import {
  FEED_CLOSE_CODES,
  type FeedEventMessage,
  type FeedServerMessage,
  type FeedSubscribe,
  REPLAY_FEED_VERSION,
} from '@toolgym/protocol';
import type { WebSocket } from 'ws';
import { eventToMessage, type StoredEvent, type TrajectoryStore } from './store.ts';

export interface FeedLimits {
  /** A live client whose unsent bytes exceed this is told to resume from its cursor and closed. */
  maxBufferedBytes: number;
  /** History (catch-up and replay) is read from the store only while the client's buffer is below this. */
  readAheadBytes: number;
  /** Events read from the store per query. */
  pageSize: number;
}

type Phase = 'catching-up' | 'live' | 'replaying' | 'closed';

/**
 * One subscribed websocket client. History is pulled from the store page by page, paced by the
 * client's own buffer (a slow reader only slows itself). Once caught up, the client is `live`
 * and receives what the server broadcasts; if it then reads slower than events arrive, its buffer
 * hits `maxBufferedBytes` and it is told where to resume instead of holding server memory.
 */
export class FeedSession {
  private phase: Phase = 'catching-up';
  /** Cursor of the last event handled for this client (sent, or passed over by its filter). */
  private lastCursor: number;
  private terminateTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly store: TrajectoryStore,
    readonly subscription: FeedSubscribe,
    private readonly limits: FeedLimits,
    /** The event's feed frame (UTF-8 JSON), shared by every session: serialised once per event, not per client. */
    private readonly render: (event: StoredEvent) => Buffer,
    /** A page of history after a cursor, shared by sessions reading the same stretch of the log. */
    private readonly readPage: (after: number, runId: string | undefined) => readonly StoredEvent[],
  ) {
    this.lastCursor = subscription.after;
    ws.once('close', () => this.stop());
  }

  /** Bytes queued for this client and not yet written to its socket. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
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
        // broadcaster only sends cursors above lastCursor, so there is neither gap nor duplicate.
        this.phase = 'live';
        this.send({ type: 'caught-up', cursor: this.lastCursor });
        return;
      }
      for (const event of events) this.deliver(event);
    }
  }

  private async replay(): Promise<void> {
    const { speed, maxGapMs } = this.subscription;
    let previousAt: number | undefined;
    while (this.phase === 'replaying') {
      const events = this.readPage(this.lastCursor, this.subscription.runId);
      if (events.length === 0) break;
      for (const event of events) {
        if (!this.matches(event)) {
          this.lastCursor = event.cursor;
          continue;
        }
        if (speed > 0 && previousAt !== undefined) {
          const pause = Math.min(Math.max(0, (event.at - previousAt) / speed), maxGapMs);
          if (pause > 0) await sleep(pause);
        }
        previousAt = event.at;
        // Wait only when the client is behind: an await per event would cost more than its send.
        if (this.ws.bufferedAmount > this.limits.readAheadBytes) await this.waitForRoom();
        if (this.phase !== 'replaying') return;
        this.deliver(event);
      }
    }
    if (this.phase !== 'replaying') return;
    this.send({ type: 'end', cursor: this.lastCursor });
    this.phase = 'closed';
    this.ws.close(FEED_CLOSE_CODES.replayEnded, 'replay ended');
  }

  /** Called by the server with new committed events, in cursor order. */
  broadcast(events: readonly StoredEvent[]): void {
    if (this.phase !== 'live') return;
    for (const event of events) {
      if (event.cursor <= this.lastCursor) continue;
      if (this.subscription.runId !== undefined && event.runId !== this.subscription.runId) continue;
      this.deliver(event);
      if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
        this.overflow();
        return;
      }
    }
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

  private deliver(event: StoredEvent): void {
    this.lastCursor = event.cursor;
    if (!this.matches(event)) return;
    if (event.type === 'trajectory' && this.subscription.full) {
      const message: FeedEventMessage = eventToMessage(event);
      if (message.type === 'trajectory') message.trajectory = this.store.getTrajectory(message.summary.id);
      this.send(message);
      return;
    }
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(this.render(event), { binary: false });
  }

  private matches(event: StoredEvent): boolean {
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
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Pull-side backpressure: wait until the client has read most of what it was sent. */
  private async waitForRoom(): Promise<void> {
    while (this.phase !== 'closed' && this.ws.bufferedAmount > this.limits.readAheadBytes) {
      // The moment the kernel takes more (no polling delay), or a short pause if the socket is gone.
      const socket = (this.ws as unknown as { _socket?: import('node:net').Socket })._socket;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
