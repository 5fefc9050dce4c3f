import type { FeedServerMessage, Trajectory, TrajectoryGroup, TrajectorySummary } from '@toolgym/protocol';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, type Filters, formatReward, type RunRow, type StepPoint } from './api.ts';
import { Curves } from './curves.tsx';
import { followRun } from './live-feed.ts';
import { GroupView, TrajectoryDetail } from './trajectory-view.tsx';
import './styles.css';

const NO_FILTERS: Filters = { envId: '', taskId: '', minReward: '', maxReward: '', text: '' };

interface LiveTurn {
  cursor: number;
  trajectoryId: string;
  index: number;
  text: string;
  calls: string[];
}

function App() {
  const [runs, setRuns] = useState<RunRow[]>([]);
  const [runId, setRunId] = useState<string | null>(null);
  const [curves, setCurves] = useState<StepPoint[]>([]);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [list, setList] = useState<TrajectorySummary[]>([]);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [detail, setDetail] = useState<Trajectory | null>(null);
  const [group, setGroup] = useState<TrajectoryGroup | null>(null);
  const [live, setLive] = useState(false);
  const [liveStatus, setLiveStatus] = useState('off');
  const [liveTurns, setLiveTurns] = useState<LiveTurn[]>([]);
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
      if (m.type === 'turn') {
        const calls = m.turn.toolCalls.map((c) => c.name);
        setLiveTurns((old) =>
          [
            { cursor: m.cursor, trajectoryId: m.trajectoryId, index: m.turn.index, text: m.turn.text, calls },
            ...old,
          ].slice(0, 6),
        );
      }
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
    api.trajectory(id).then(setDetail).catch(fail);
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
                setLiveTurns([]);
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
              {liveTurns.length > 0 && (
                <div class="live-turns" data-testid="live-turns">
                  {liveTurns.map((t) => (
                    <div class="live-turn">
                      <b>{t.trajectoryId}</b> turn {t.index}: {t.text}{' '}
                      {t.calls.length > 0 && <code>→ {t.calls.join(', ')}</code>}
                    </div>
                  ))}
                </div>
              )}
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
