import { PolicySpecError } from './errors.ts';
import type { Policy, PolicyScheme, PolicySpecContext } from './policy.ts';

/**
 * Policy schemes by name → the module that implements them, loaded on first use (so an engine's
 * heavy dependencies load only when that engine is asked for). An engine adds itself with one
 * entry here, or at run time with `registerPolicyScheme`.
 */
const schemes = new Map<string, () => Promise<PolicyScheme>>([
  ['oracle', async () => (await import('./policies/scripted.ts')).oraclePolicyScheme],
  ['random', async () => (await import('./policies/scripted.ts')).randomPolicyScheme],
  ['openai', async () => (await import('./policies/openai-compatible.ts')).openaiPolicyScheme],
  ['onnx', async () => (await import('./onnx/onnx-policy-scheme.ts')).onnxPolicyScheme],
]);

export function registerPolicyScheme(name: string, load: () => Promise<PolicyScheme>): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new PolicySpecError(
      `policy scheme '${name}' is not valid`,
      'use lowercase letters, digits and dashes',
    );
  schemes.set(name, load);
}

export function policySchemeNames(): string[] {
  return [...schemes.keys()].sort();
}

/** Splits `scheme:target`; a bare word is a scheme with no target (`oracle`). */
export function parsePolicySpec(spec: string): { scheme: string; target: string } {
  const colon = spec.indexOf(':');
  return colon < 0
    ? { scheme: spec, target: '' }
    : { scheme: spec.slice(0, colon), target: spec.slice(colon + 1) };
}

/** A policy from its spec: `oracle`, `random`, `openai:<baseURL>#<model>`, `onnx:<modelDir>`, … */
export async function createPolicyFromSpec(spec: string, context: PolicySpecContext): Promise<Policy> {
  const { scheme, target } = parsePolicySpec(spec.trim());
  const load = schemes.get(scheme);
  if (!load) {
    throw new PolicySpecError(
      `unknown policy '${spec}'`,
      `known policy schemes: ${policySchemeNames().join(', ')} (e.g. oracle, openai:http://localhost:8000/v1#my-model)`,
    );
  }
  return (await load()).create(target, context);
}
