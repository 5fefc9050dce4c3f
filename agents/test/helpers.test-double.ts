import compose from '@toolgym/env-compose';
import { Environment, EnvironmentClient } from '@toolgym/env-kit';
import type { GenerateRequest, GenerateResult, Policy } from '../src/policy.ts';
import type { Tokenizer } from '../src/tokenizer.ts';

/** A small compose environment for tests. */
export function composeEnvironment(options: Record<string, unknown> = {}): Environment {
  return new Environment(compose, compose.parseConfig({ tasksPerDepth: 20, ...options }));
}

export function inProcessClient(env: Environment): Promise<EnvironmentClient> {
  return EnvironmentClient.connect({ kind: 'in-process', environment: env });
}

/**
 * TEST DOUBLE of a token-mode model: writes the given turn texts in order (one per generate call),
 * as byte tokens followed by `<|im_end|>`, with made-up logprobs. `write` may look at the request.
 */
export function scriptedTokenPolicyTestDouble(
  tokenizer: Tokenizer,
  write: (turn: number, request: GenerateRequest) => string,
  extra: Partial<Policy> = {},
): Policy & { requests: GenerateRequest[] } {
  const requests: GenerateRequest[] = [];
  let turn = 0;
  return {
    id: 'scripted-test-double',
    version: 3,
    tokenizer,
    requests,
    async generate(request): Promise<GenerateResult> {
      // The prompt ids are lent for the call: what is kept is copied.
      requests.push('tokens' in request ? { ...request, tokens: [...request.tokens] } : request);
      const text = write(turn++, request);
      const tokens = [...tokenizer.encode(text), tokenizer.specialTokens.get('<|im_end|>')!];
      return {
        text,
        tokens,
        logprobs: tokens.map((_, i) => -0.01 * (i + 1)),
        finishReason: 'stop',
        policyVersion: 3,
      };
    },
    ...extra,
  };
}

/** `inner` (a policy that binds episodes) with each bound episode's generate calls passed through `around`. */
export function aroundGenerate(
  inner: Policy,
  around: (
    request: GenerateRequest,
    generate: (request: GenerateRequest) => Promise<GenerateResult>,
    seed: number,
  ) => Promise<GenerateResult>,
): Policy {
  return {
    ...inner,
    async bindEpisode(binding) {
      const bound = await inner.bindEpisode!(binding);
      return { ...bound, generate: (request) => around(request, (r) => bound.generate(r), binding.seed) };
    },
  };
}

/** Wraps a policy to count generate calls in flight and optionally slow some down. */
export function instrumented(inner: Policy, delayFor: (seed: number) => number) {
  const stats = { inFlight: 0, maxInFlight: 0 };
  const policy = aroundGenerate(inner, async (request, generate, seed) => {
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      await new Promise((r) => setTimeout(r, delayFor(seed)));
      return await generate(request);
    } finally {
      stats.inFlight--;
    }
  });
  return { policy, stats };
}
