import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Environment } from './episode.ts';
import { type EpisodeSession, type Principal, serveSession } from './mcp-server.ts';

/** One MCP session over HTTP: one episode, owned by the principal that opened it. */
export interface HttpSession {
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly session: EpisodeSession;
  /** When the last request arrived (ms since the epoch); idle sessions are reaped. */
  lastSeen: number;
}

/**
 * The open MCP sessions of one HTTP server, by `Mcp-Session-Id`. A session is registered once the
 * SDK transport has answered its initialize; one that never initialises is released at once.
 */
export class HttpSessions {
  private readonly sessions = new Map<string, HttpSession>();

  constructor(private readonly env: Environment) {}

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): HttpSession | undefined {
    return this.sessions.get(id);
  }

  /** A new session for `principal`, answering `request` (its initialize). */
  async open(principal: Principal, request: Request, parsedBody: unknown): Promise<Response> {
    let created: HttpSession | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        if (created) this.sessions.set(id, created);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    const { session } = await serveSession(this.env, transport, principal);
    created = { transport, session, lastSeen: Date.now() };
    try {
      const response = await transport.handleRequest(request, { parsedBody });
      if (!transport.sessionId) await release(created);
      return response;
    } catch (error) {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
      await release(created);
      throw error;
    }
  }

  /** Closes the sessions with no request since `cutoff`. */
  reapIdle(cutoff: number): void {
    for (const [id, s] of this.sessions) {
      if (s.lastSeen >= cutoff) continue;
      this.sessions.delete(id);
      void release(s);
    }
  }

  async closeAll(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(open.map(release));
  }
}

async function release(s: HttpSession): Promise<void> {
  await s.transport.close();
  await s.session.close();
}
