import { EpisodeStateError } from './errors.ts';

/** A tool call that was stopped (past its deadline) touched the episode afterwards. */
export class StoppedCallError extends EpisodeStateError {
  constructor(tool: string) {
    super(
      'tool_call_stopped',
      `tool '${tool}' was stopped at its deadline; what it does afterwards does not reach the episode`,
      'an async tool must honour its AbortSignal, and reach episode state through ctx.episode after each await',
    );
  }
}

/**
 * What one in-thread tool call sees of its episode. A stopped call is not awaited: its promise
 * may still run, and whatever it did to the episode then would land after the agent was told the
 * call had no effect (an answer recorded late, a question posted to a match late). So the call
 * gets the episode, and its state, behind a gate that `stop` closes: from then on every read or
 * write through them throws `StoppedCallError`, which ends the late work instead.
 *
 * The gate covers the episode and the top level of a plain-object state (a class instance is
 * passed as it is: a proxy would break its private fields). What a tool holds in a local variable
 * across an await (an object inside the state) is beyond it: tools read such objects through
 * `ctx.episode` again after each await.
 */
export class CallScope<E extends object> {
  readonly episode: E;
  private stopped = false;
  private stateView?: { target: object; view: object };

  constructor(
    private readonly target: E,
    private readonly tool: string,
  ) {
    this.episode = new Proxy(target, {
      get: (t, key, receiver) => {
        this.check();
        const value = Reflect.get(t, key, receiver);
        return key === 'state' && isPlainObject(value) ? this.viewOfState(value) : value;
      },
      set: (t, key, value, receiver) => {
        this.check();
        return Reflect.set(t, key, value, receiver);
      },
    });
  }

  /** Closes the gate: the call is over for the episode, whatever its promise still does. */
  stop(): void {
    this.stopped = true;
  }

  private check(): void {
    if (this.stopped) throw new StoppedCallError(this.tool);
  }

  private viewOfState(state: object): object {
    if (this.stateView?.target !== state) {
      const view = new Proxy(state, {
        get: (t, key) => {
          this.check();
          return Reflect.get(t, key);
        },
        set: (t, key, value) => {
          this.check();
          return Reflect.set(t, key, value);
        },
        deleteProperty: (t, key) => {
          this.check();
          return Reflect.deleteProperty(t, key);
        },
      });
      this.stateView = { target: state, view };
    }
    return this.stateView.view;
  }
}

const isPlainObject = (value: unknown): value is object => {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};
