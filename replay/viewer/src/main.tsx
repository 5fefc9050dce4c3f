import type {
  FeedServerMessage,
  TrajectoryGroupJson,
  TrajectoryJson,
  TrajectorySummary,
  Turn,
} from '@toolgym/protocol';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  type Filters,
  formatReward,
  type LiveEpisodeSummary,
  type PartialTrajectory,
  type RunRow,
  type StepPoint,
} from './api.ts';
import { Curves } from './curves.tsx';
import { followRun } from './live-feed.ts';
import { GroupView, PartialDetail, TrajectoryDetail } from './trajectory-view.tsx';
import './styles.css';

const NO_FILTERS: Filters = { envId: '', taskId: '', minReward: '', maxReward: '', text: '' };

/** An episode whose group has not committed: the turns seen live, and its status. */
interface RunningEpisode {
  id: string;
  taskId: string;
  step?: number;
  status: 'running' | 'unfinished';
  /** Turns recorded, including those before the viewer followed. */
  count: number;
  turns: Turn[];
  reason?: string;
}

function runningFrom(summary: LiveEpisodeSummary): RunningEpisode {
  return {
    id: summary.trajectoryId,
    taskId: summary.taskId,
    ...(summary.step !== undefined ? { step: summary.step } : {}),
    status: summary.status,
    count: summary.turns,
    turns: [],
    ...(summary.reason ? { reason: summary.reason } : {}),
  };
}

function App() {
  const [runs, setRuns] = useState<RunRow[]>([]);
  const [runId, setRunId] = useState<string | null>(null);
  const [curves, setCurves] = useState<StepPoint[]>([]);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [list, setList] = useState<TrajectorySummary[]>([]);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [detail, setDetail] = useState<TrajectoryJson | null>(null);
  const [group, setGroup] = useState<TrajectoryGroupJson | null>(null);
  const [live, setLive] = useState(false);
  const [liveStatus, setLiveStatus] = useState('off');
  const [running, setRunning] = useState<Map<string, RunningEpisode>>(new Map());
  const [partial, setPartial] = useState<PartialTrajectory | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refreshTimer = useRef<number | undefined>(undefined);

  const fail = (e: unknown) => setError(String((e as Error).message ?? e));
  const loadRuns = useCallback(() => api.runs().then(setRuns).catch(fail), []);
  useEffect(() => {
    loadRuns();
  }, []);

  const loadRun = useCallback((id: string, f: Filters) => {
    api.curves(id).then(setCurves).catch(fail);
    api.trajectories(id, f).then(setList).catch(fail);
    api
      .episodes(id)
      .then((episodes) => setRunning(new Map(episodes.map((e) => [e.trajectoryId, runningFrom(e)]))))
      .catch(fail);
  }, []);
  useEffect(() => {
    if (runId) loadRun(runId, filters);
  }, [runId, filters]);

  // Live mode: follow the selected run from the newest cursor; new trajectories join the list,
  // curves and the runs list refresh (debounced), turns show in the activity strip.
  useEffect(() => {
    if (!live || !runId) {
      setLiveStatus('off');
      return;
    }
    let stop = () => {};
    let cancelled = false;
    api.head().then((head) => {
      if (cancelled) return;
      const filter = {
        ...(filters.envId ? { envId: filters.envId } : {}),
        ...(filters.taskId ? { taskId: filters.taskId } : {}),
        ...(filters.minReward ? { minReward: Number(filters.minReward) } : {}),
        ...(filters.maxReward ? { maxReward: Number(filters.maxReward) } : {}),
      };
      stop = followRun(runId, head, filter, (m: FeedServerMessage) => onLive(m), setLiveStatus);
    });
    const onLive = (m: FeedServerMessage) => {
      if (m.type === 'trajectory') {
        setList((old) => [m.summary, ...old.filter((s) => s.id !== m.summary.id)]);
        setFresh((old) => new Set(old).add(m.summary.id));
      }
      // A turn is of an episode still running until its trajectory event (its group's commit).
      if (m.type === 'turn') {
        setRunning((old) => {
          const next = new Map(old);
          const episode = next.get(m.trajectoryId) ?? {
            id: m.trajectoryId,
            taskId: m.taskId,
            ...(m.step !== undefined ? { step: m.step } : {}),
            status: 'running' as const,
            count: 0,
            turns: [],
          };
          next.set(m.trajectoryId, {
            ...episode,
            status: 'running',
            count: Math.max(episode.count, m.turn.index + 1),
            turns: [...episode.turns, m.turn],
          });
          return next;
        });
      }
      if (m.type === 'trajectory')
        setRunning((old) => {
          const next = new Map(old);
          next.delete(m.summary.id);
          return next;
        });
      if (m.type === 'episode')
        setRunning((old) => {
          const episode = old.get(m.trajectoryId);
          const next = new Map(old);
          next.set(m.trajectoryId, {
            ...(episode ?? { id: m.trajectoryId, taskId: m.taskId, turns: [] }),
            status: 'unfinished',
            count: m.turns,
            reason: m.reason,
          });
          return next;
        });
      if (m.type === 'trajectory' || m.type === 'step-metrics' || m.type === 'run') {
        window.clearTimeout(refreshTimer.current);
        refreshTimer.current = window.setTimeout(() => {
          api.curves(runId).then(setCurves).catch(fail);
          loadRuns();
        }, 300);
      }
    };
    return () => {
      cancelled = true;
      stop();
    };
  }, [live, runId, filters.envId, filters.taskId, filters.minReward, filters.maxReward]);

  const openTrajectory = (id: string) => {
    setGroup(null);
    setPartial(null);
    api.trajectory(id).then(setDetail).catch(fail);
  };
  const openPartial = (id: string) => {
    setGroup(null);
    setDetail(null);
    api.episode(id).then(setPartial).catch(fail);
  };
  const openGroup = (id: string) =>
    api
      .group(id)
      .then((g) => {
        setDetail(null);
        setGroup(g);
      })
      .catch(fail);
  const envs = [...new Set(list.map((s) => s.envId))].sort();
  const run = runs.find((r) => r.id === runId);

  return (
    <div class="app">
      <header>
        <h1>ToolGym replay</h1>
        {error && (
          <button type="button" class="error" onClick={() => setError(null)} title="dismiss">
            {error}
          </button>
        )}
      </header>
      <div class="layout">
        <nav class="runs" data-testid="runs">
          <h2>Runs</h2>
          {runs.length === 0 && <p class="empty">No runs in this store yet.</p>}
          {runs.map((r) => (
            <button
              type="button"
              class={r.id === runId ? 'run selected' : 'run'}
              data-testid={`run-${r.id}`}
              onClick={() => {
                setRunId(r.id);
                setDetail(null);
                setGroup(null);
                setPartial(null);
                setRunning(new Map());
                setFresh(new Set());
              }}
            >
              <span class="run-id">{r.id}</span>
              <span class={`badge ${r.status}`}>{r.status}</span>
              <span class="run-stats">
                {r.trajectories} traj · {r.steps} steps · reward {formatReward(r.rewardMean)}
              </span>
            </button>
          ))}
        </nav>
        <main>
          {!run && <p class="empty">Choose a run.</p>}
          {run && (
            <>
              <div class="run-head">
                <h2 data-testid="run-title">{run.id}</h2>
                <span class={`badge ${run.status}`}>{run.status}</span>
                <label class="live-toggle">
                  <input
                    type="checkbox"
                    checked={live}
                    onChange={() => setLive(!live)}
                    data-testid="live-toggle"
                  />{' '}
                  follow live
                </label>
                <span class={`live-status ${liveStatus}`} data-testid="live-status">
                  {liveStatus}
                </span>
              </div>
              <Curves points={curves} />
              {running.size > 0 && <RunningEpisodes episodes={[...running.values()]} onOpen={openPartial} />}
              <FilterBar filters={filters} envs={envs} onChange={setFilters} />
              <div class="table-scroll">
                <table class="trajectories" data-testid="trajectories">
                  <thead>
                    <tr>
                      <th>trajectory</th>
                      <th>step</th>
                      <th>env</th>
                      <th>task</th>
                      <th>reward</th>
                      <th>turns</th>
                      <th>tokens</th>
                      <th>status</th>
                      <th>answer</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((s) => (
                      <tr
                        class={`${fresh.has(s.id) ? 'fresh' : ''} ${detail?.id === s.id ? 'selected' : ''}`}
                        data-testid="trajectory-row"
                        data-id={s.id}
                        onClick={() => openTrajectory(s.id)}
                      >
                        <td>{s.id}</td>
                        <td>{s.step ?? '–'}</td>
                        <td>{s.envId}</td>
                        <td>{s.taskId}</td>
                        <td class="num">{formatReward(s.reward.total)}</td>
                        <td class="num">{s.turns}</td>
                        <td class="num">{s.tokens}</td>
                        <td>{s.status}</td>
                        <td class="answer">{s.finalText}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {group && <GroupView group={group} onOpen={openTrajectory} />}
              {partial && <PartialDetail partial={partial} />}
              {detail && (
                <TrajectoryDetail
                  trajectory={detail}
                  onGroup={() => detail.groupId && openGroup(detail.groupId)}
                />
              )}
            </>
          )}
        </main>
      </div>
    </div>
  );
}

/** Episodes in progress (turn by turn as they arrive) and those whose writer stopped mid-episode. */
function RunningEpisodes({ episodes, onOpen }: { episodes: RunningEpisode[]; onOpen: (id: string) => void }) {
  return (
    <div class="running" data-testid="running-episodes">
      <h3>Episodes in progress</h3>
      {episodes.map((e) => (
        <div class={`running-episode ${e.status}`} data-testid="running-episode" data-id={e.id}>
          <button type="button" class="link" onClick={() => onOpen(e.id)}>
            {e.id}
          </button>{' '}
          <span class={`badge ${e.status}`}>{e.status}</span> {e.taskId} · step {e.step ?? '–'} · {e.count}{' '}
          turns
          {e.reason && <span class="reason"> · {e.reason}</span>}
          {e.turns.map((t) => (
            <div class="running-turn" data-testid="running-turn">
              turn {t.index}: {t.text}{' '}
              {t.toolCalls.length > 0 && <code>→ {t.toolCalls.map((c) => c.name).join(', ')}</code>}
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}

function FilterBar({
  filters,
  envs,
  onChange,
}: {
  filters: Filters;
  envs: string[];
  onChange: (f: Filters) => void;
}) {
  const [draft, setDraft] = useState(filters);
  const set = (key: keyof Filters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="filters"
      data-testid="filters"
      onSubmit={(e) => {
        e.preventDefault();
        onChange(draft);
      }}
    >
      <select value={draft.envId} onChange={set('envId')} data-testid="filter-env">
        <option value="">all environments</option>
        {[...new Set([...envs, ...(draft.envId ? [draft.envId] : [])])].map((env) => (
          <option value={env}>{env}</option>
        ))}
      </select>
      <input placeholder="task id" value={draft.taskId} onInput={set('taskId')} data-testid="filter-task" />
      <input
        placeholder="min reward"
        size={8}
        value={draft.minReward}
        onInput={set('minReward')}
        data-testid="filter-min"
      />
      <input
        placeholder="max reward"
        size={8}
        value={draft.maxReward}
        onInput={set('maxReward')}
        data-testid="filter-max"
      />
      <input placeholder="search text" value={draft.text} onInput={set('text')} data-testid="filter-text" />
      <button type="submit" data-testid="filter-apply">
        filter
      </button>
    </form>
  );
}

render(<App />, document.getElementById('app')!);
