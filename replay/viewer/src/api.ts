import type { TrajectoryGroupJson, TrajectoryJson, TrajectorySummary } from '@toolgym/protocol';
// The server's JSON shapes come from the store itself; a type-only import, so nothing of the
// store reaches the browser bundle.
import type { LiveEpisodeSummary, PartialTrajectory, RunRow, StepPoint } from '../../src/store.ts';

export type { LiveEpisodeSummary, PartialTrajectory, RunRow, StepPoint };

export interface Filters {
  envId: string;
  taskId: string;
  minReward: string;
  maxReward: string;
  text: string;
}

/** A token given as `?token=` when the page was opened; sent on every request and on the feed. */
export const token = new URLSearchParams(location.search).get('token') ?? '';

async function get<T>(path: string): Promise<T> {
  const res = await fetch(new URL(path, location.href), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

export const api = {
  runs: () => get<RunRow[]>('api/runs'),
  curves: (runId: string) => get<StepPoint[]>(`api/runs/${encodeURIComponent(runId)}/curves`),
  trajectories: (runId: string, filters: Filters, limit = 200) => {
    const q = new URLSearchParams({ runId, limit: String(limit) });
    for (const [key, value] of Object.entries(filters)) if (value.trim()) q.set(key, value.trim());
    return get<TrajectorySummary[]>(`api/trajectories?${q}`);
  },
  trajectory: (id: string) => get<TrajectoryJson>(`api/trajectories/${encodeURIComponent(id)}`),
  group: (id: string) => get<TrajectoryGroupJson>(`api/groups/${encodeURIComponent(id)}`),
  pieces: (id: string) => get<Array<string | null>>(`api/trajectories/${encodeURIComponent(id)}/pieces`),
  episodes: (runId: string) => get<LiveEpisodeSummary[]>(`api/episodes?runId=${encodeURIComponent(runId)}`),
  episode: (id: string) => get<PartialTrajectory>(`api/episodes/${encodeURIComponent(id)}`),
  head: () => get<{ head: number }>('api/health').then((h) => h.head),
};

export function feedUrl(): string {
  const url = new URL('feed', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = token ? `?token=${encodeURIComponent(token)}` : '';
  return url.toString();
}

export function formatReward(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(3);
}
