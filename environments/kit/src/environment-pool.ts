import type { EndResult, EnvironmentInfo, OracleResult, Split, StartParams, StartResult, Task, ToolSpec } from '@toolgym/protocol';
import { type CallOptions, type ClientToolResult, EnvironmentClient } from './client.ts';
import { ConfigError } from './errors.ts';

export interface EnvironmentPoolOptions {
  /** The servers' MCP URLs (`http://host:port/mcp`), all serving the same environment. */
  endpoints: readonly string[];
  /** Bearer token sent to every endpoint. */
  token?: string;
  /** How often each endpoint's `/healthz` is asked. Default 2 s. */
  healthIntervalMs?: number;
  /** A health check not answered within this is a failure. Default 2 s. */
  healthTimeoutMs?: number;
}

/** One endpoint as the pool sees it. */
export interface PoolEndpoint {
  url: string;
  healthy: boolean;
  /** Sessions this pool holds open on it. */
  open: number;
  /** Sessions the server reported at its last health check (every client's). */
  reported: number;
  /** Why it is out of rotation, when it is. */
  down?: string;
}

/**
 * Several HTTP servers of one environment used as one: `connect()` opens a session on the healthy
 * endpoint with the least load, and the session stays there for its life (an MCP session lives in
 * one server's memory). Endpoints are health-checked on a schedule; one that fails a check, refuses
 * a connection or drops a session leaves the rotation until a check passes again.
 */
export class EnvironmentPool {
  private readonly endpoints: PoolEndpoint[];
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  private constructor(private readonly options: EnvironmentPoolOptions) {
    this.endpoints = options.endpoints.map((url) => ({ url, healthy: true, open: 0, reported: 0 }));
    this.timer = setInterval(() => void this.checkAll(), options.healthIntervalMs ?? 2_000);
    this.timer.unref();
  }

  /** A pool whose endpoints have had one health check; at least one must pass it. */
  static async open(options: EnvironmentPoolOptions): Promise<EnvironmentPool> {
    if (options.endpoints.length === 0)
      throw new ConfigError('an environment pool needs at least one endpoint', 'list the servers under environment.endpoints');
    for (const url of options.endpoints) {
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
        throw new ConfigError(`'${url}' is not an http(s) URL`, 'give each endpoint as http://host:port/mcp');
    }
    const pool = new EnvironmentPool(options);
    await pool.checkAll();
    if (!pool.endpoints.some((e) => e.healthy)) {
      pool.close();
      throw new ConfigError(
        `no environment server answers: ${pool.endpoints.map((e) => `${e.url} (${e.down})`).join(', ')}`,
        'start the servers (toolgym env serve <env> --http <port>) or fix environment.endpoints',
      );
    }
    return pool;
  }

  /** Each endpoint's state (a copy). */
  status(): PoolEndpoint[] {
    return this.endpoints.map((e) => ({ ...e }));
  }

  /**
   * A session on the least-loaded healthy endpoint: fewest sessions counting this pool's own and
   * the others the server last reported. An endpoint that refuses is taken out and the next tried.
   */
  async connect(): Promise<EnvironmentClient> {
    const tried = new Set<PoolEndpoint>();
    let lastError: unknown;
    for (;;) {
      const candidates = this.endpoints.filter((e) => e.healthy && !tried.has(e));
      if (candidates.length === 0) break;
      const endpoint = candidates.reduce((a, b) => (load(b) < load(a) ? b : a));
      tried.add(endpoint);
      endpoint.open++;
      try {
        const client = await EnvironmentClient.connect({
          kind: 'http',
          url: endpoint.url,
          ...(this.options.token ? { token: this.options.token } : {}),
        });
        return new PooledClient(client, (lostReason) => this.released(endpoint, lostReason));
      } catch (error) {
        endpoint.open--;
        lastError = error;
        this.markDown(endpoint, `connect failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new ConfigError(
      `no healthy environment server in the pool (${this.endpoints.map((e) => `${e.url}: ${e.down ?? 'healthy'}`).join('; ')})`,
      `restart the servers; the last error was ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    );
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private released(endpoint: PoolEndpoint, lostReason: string | undefined): void {
    endpoint.open--;
    if (lostReason) this.markDown(endpoint, lostReason);
  }

  private markDown(endpoint: PoolEndpoint, reason: string): void {
    endpoint.healthy = false;
    endpoint.down = reason;
  }

  private async checkAll(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => this.check(e)));
  }

  private async check(endpoint: PoolEndpoint): Promise<void> {
    if (this.closed) return;
    const health = new URL('healthz', new URL('.', endpoint.url));
    try {
      const response = await fetch(health, {
        signal: AbortSignal.timeout(this.options.healthTimeoutMs ?? 2_000),
        ...(this.options.token ? { headers: { authorization: `Bearer ${this.options.token}` } } : {}),
      });
      if (!response.ok) throw new Error(`${health} answered ${response.status}`);
      const body = (await response.json()) as { sessions?: unknown };
      endpoint.reported = typeof body.sessions === 'number' ? body.sessions : 0;
      endpoint.healthy = true;
      delete endpoint.down;
    } catch (error) {
      this.markDown(endpoint, `health check failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** An endpoint's load: the sessions on it, ours and (as last reported) everyone else's. */
function load(e: PoolEndpoint): number {
  return Math.max(e.open, e.reported);
}

/** A session of the pool: the endpoint's client, which tells the pool when it closes and whether it was lost. */
class PooledClient extends EnvironmentClient {
  private released = false;

  constructor(
    private readonly inner: EnvironmentClient,
    private readonly onRelease: (lostReason: string | undefined) => void,
  ) {
    super();
  }

  info(options?: CallOptions): Promise<EnvironmentInfo> {
    return this.relay(this.inner.info(options));
  }
  tasks(params?: { split?: Split; offset?: number; limit?: number; withAnswers?: boolean }): Promise<{ tasks: Task[]; total: number }> {
    return this.relay(this.inner.tasks(params));
  }
  start(params?: StartParams, options?: CallOptions): Promise<StartResult> {
    return this.relay(this.inner.start(params, options));
  }
  end(finalText?: string, options?: CallOptions): Promise<EndResult> {
    return this.relay(this.inner.end(finalText, options));
  }
  oracle(options?: CallOptions): Promise<OracleResult> {
    return this.relay(this.inner.oracle(options));
  }
  listTools(options?: CallOptions): Promise<ToolSpec[]> {
    return this.relay(this.inner.listTools(options));
  }
  callTool(name: string, args: Record<string, unknown>, options?: CallOptions): Promise<ClientToolResult> {
    return this.relay(this.inner.callTool(name, args, options));
  }
  async close(): Promise<void> {
    this.lostReason ??= this.inner.lostReason;
    if (!this.released) {
      this.released = true;
      this.onRelease(this.lostReason);
    }
    await this.inner.close();
  }

  /** A failed request may have lost the connection: the session then says so, as the endpoint's client does. */
  private relay<T>(request: Promise<T>): Promise<T> {
    return request.catch((error: unknown) => {
      this.lostReason ??= this.inner.lostReason;
      throw error;
    });
  }
}
