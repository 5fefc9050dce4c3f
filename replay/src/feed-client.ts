import {
  FEED_CLOSE_CODES,
  type FeedEventMessage,
  type FeedServerMessage,
  FeedServerMessageSchema,
  type FeedSubscribe,
  FeedSubscribeSchema,
} from '@toolgym/protocol';
import WebSocket from 'ws';
import { ReplayConfigError, ReplayError } from './errors.ts';

export interface FeedClientOptions {
  /** ws://host:port/feed */
  url: string;
  token?: string;
  /** The subscription; `after` is where the first connection starts. */
  subscribe: Partial<Omit<FeedSubscribe, 'type'>>;
  /**
   * Each event (run, turn, trajectory, step-metrics, episode), exactly once: committed ones in cursor
   * order, and each run's in seq order. One marked `pending` is not committed yet (a later
   * `committed` or `write-failed` control message says which it became).
   */
  onEvent: (message: FeedEventMessage) => void;
  /** Every other server message (hello, caught-up, committed, write-failed, overflow, end, error). */
  onControl?: (message: FeedServerMessage) => void;
  /** Reconnect and resume after a dropped connection or an overflow (default true). */
  reconnect?: boolean;
  /** Pause before reconnecting (ms). */
  reconnectDelayMs?: number;
}

/**
 * A feed client that resumes: it remembers the cursor of the last committed event it handled and
 * the last seq of each run (events can arrive before their commit) and, when the connection drops
 * (network, server restart, `overflow`), reconnects with `after` and `seqs` set to them.
 * Events arrive once each, in order, with no gap. `done` settles when a replay ends, the client is
 * closed, or the server refuses the subscription.
 */
export class FeedClient {
  /** Cursor of the last committed event handed to `onEvent` (or confirmed by `committed`). */
  cursor: number;
  /** Per run, the seq of the last event handed to `onEvent`. */
  readonly seqs: Record<string, number>;
  /** How many connections were opened (1 + reconnects). */
  connections = 0;
  readonly done: Promise<void>;
  private ws: WebSocket | undefined;
  private stopped = false;
  private resolveDone!: () => void;
  private rejectDone!: (error: Error) => void;
  private readonly subscription: FeedSubscribe;
  /** How long the server asked us to wait before the next connection (Retry-After). */
  private retryAfterMs: number | undefined;

  constructor(private readonly options: FeedClientOptions) {
    const parsed = FeedSubscribeSchema.safeParse({ type: 'subscribe', ...options.subscribe });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ReplayConfigError(
        `Bad feed subscription at ${issue?.path.join('.') || '(root)'}: ${issue?.message}.`,
        'See replay/PROTOCOL.md for the subscribe message.',
      );
    }
    this.subscription = parsed.data;
    this.cursor = this.subscription.after;
    this.seqs = { ...this.subscription.seqs };
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    this.connections++;
    const headers: Record<string, string> = this.options.token
      ? { authorization: `Bearer ${this.options.token}` }
      : {};
    const ws = new WebSocket(this.options.url, { headers });
    this.ws = ws;
    ws.on('open', () =>
      ws.send(JSON.stringify({ ...this.subscription, after: this.cursor, seqs: this.seqs })),
    );
    ws.on('message', (data) => {
      const json: unknown = JSON.parse(String(data));
      const parsed = FeedServerMessageSchema.safeParse(json);
      if (!parsed.success) {
        // An event sent before its commit has not been validated yet: one that does not match the
        // wire schema will not pass the store's validation either, and is withdrawn (write-failed).
        if ((json as { pending?: unknown })?.pending === true) return;
        const issue = parsed.error.issues[0];
        this.fail(
          new ReplayError(
            'feed_bad_message',
            `The feed sent a message that does not match the protocol at ${issue?.path.join('.') || '(root)'}: ${issue?.message}.`,
          ),
        );
        return;
      }
      const message = parsed.data;
      switch (message.type) {
        case 'run':
        case 'turn':
        case 'trajectory':
        case 'step-metrics':
        case 'episode':
          // The server never sends a cursor or a run's seq twice on one connection; across
          // reconnects the `after` and `seqs` we send make that hold too. Checked anyway: a
          // duplicate would be a server bug.
          if (message.cursor !== undefined && message.cursor <= this.cursor) {
            this.fail(
              new ReplayError(
                'feed_out_of_order',
                `Feed sent cursor ${message.cursor} after ${this.cursor}.`,
              ),
            );
            return;
          }
          if (message.seq !== undefined && message.seq <= (this.seqs[message.runId] ?? 0)) {
            this.fail(
              new ReplayError(
                'feed_out_of_order',
                `Feed sent seq ${message.seq} of run '${message.runId}' after ${this.seqs[message.runId]}.`,
              ),
            );
            return;
          }
          if (message.cursor !== undefined) this.cursor = message.cursor;
          if (message.seq !== undefined) this.seqs[message.runId] = message.seq;
          this.options.onEvent(message);
          return;
        case 'committed':
          this.cursor = Math.max(this.cursor, message.cursor);
          this.options.onControl?.(message);
          return;
        case 'overflow':
          this.cursor = Math.max(this.cursor, message.resumeAfter);
          this.options.onControl?.(message);
          return;
        case 'caught-up':
          this.cursor = Math.max(this.cursor, message.cursor);
          this.options.onControl?.(message);
          return;
        case 'end':
          this.options.onControl?.(message);
          this.stopped = true;
          this.resolveDone();
          return;
        case 'error':
          this.options.onControl?.(message);
          this.fail(new ReplayError(message.code, message.message));
          return;
        default:
          this.options.onControl?.(message);
      }
    });
    // The server refused the upgrade: a wrong token or a refused Host/Origin will not heal by retrying.
    ws.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      if (status === 401 || status === 403)
        this.fail(
          new ReplayError(
            status === 401 ? 'unauthorized' : 'forbidden',
            `The feed at ${this.options.url} refused the connection (${status}).`,
            status === 401
              ? "Pass the server's token (--token or TOOLGYM_TOKEN)."
              : 'Connect by a name the server allows.',
          ),
        );
      else {
        // Full (503 with Retry-After) or failing: come back when the server says to.
        const retryAfter = Number(response.headers['retry-after']);
        if (retryAfter > 0) this.retryAfterMs = retryAfter * 1000;
        ws.terminate();
      }
      response.resume();
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (this.ws !== ws || this.stopped) return;
      if (code === FEED_CLOSE_CODES.badSubscription) return;
      if (this.options.reconnect === false) {
        this.stopped = true;
        this.resolveDone();
        return;
      }
      setTimeout(() => this.connect(), this.retryAfterMs ?? this.options.reconnectDelayMs ?? 200);
      this.retryAfterMs = undefined;
    });
  }

  /** Drop the current connection abruptly (tests use it to simulate a network failure). */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private fail(error: Error): void {
    this.stopped = true;
    this.ws?.terminate();
    this.rejectDone(error);
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
    this.resolveDone();
  }
}
