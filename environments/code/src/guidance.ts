/**
 * Agent-RLVR's guidance for a failed code attempt (Da et al. 2025): the failing tests (error
 * feedback) and a plan derived from the oracle. The agent reads it, so it says no more than a
 * teacher's hint: the public tests it could run itself with `run_tests`, how many of the grader's
 * tests failed (never which, nor their inputs or expected values), and the shape of a reference
 * solution (its length, control flow, the builtins and modules it uses), never its code.
 */

/** Calls a plan may name: builtins and common methods, whose names say how, not what. */
const NAMED_CALLS = new Set([
  'abs',
  'all',
  'any',
  'append',
  'bin',
  'bool',
  'count',
  'dict',
  'divmod',
  'enumerate',
  'extend',
  'filter',
  'find',
  'float',
  'format',
  'get',
  'index',
  'insert',
  'int',
  'isdigit',
  'items',
  'join',
  'keys',
  'len',
  'list',
  'lower',
  'map',
  'max',
  'min',
  'ord',
  'chr',
  'pop',
  'pow',
  'range',
  'replace',
  'reverse',
  'reversed',
  'round',
  'set',
  'sort',
  'sorted',
  'split',
  'startswith',
  'endswith',
  'str',
  'strip',
  'sum',
  'tuple',
  'upper',
  'values',
  'zip',
]);

/** The shape of a Python solution, as a plan: what it is built from, in words. */
export function pythonPlan(source: string, entryPoint?: string): string {
  const code = source
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .filter((line) => line.trim() !== '');
  const text = code.join('\n');
  const steps: string[] = [];
  if (/^\s*for\b/m.test(text)) steps.push('a for loop');
  if (/^\s*while\b/m.test(text)) steps.push('a while loop');
  if (/\[[^\]]*\bfor\b[^\]]*\bin\b[^\]]*\]/.test(text)) steps.push('a list comprehension');
  if (/^\s*(if|elif)\b/m.test(text)) steps.push('conditionals');
  const defined = new Set([...text.matchAll(/^\s*def\s+(\w+)/gm)].map((m) => m[1]!));
  if (
    entryPoint &&
    new RegExp(`\\b${entryPoint}\\(`).test(text.replace(new RegExp(`def\\s+${entryPoint}\\(`), ''))
  )
    steps.push('recursion');
  if (defined.size > 1) steps.push(`${defined.size - 1} helper function${defined.size > 2 ? 's' : ''}`);
  const calls = [...new Set([...text.matchAll(/\b(\w+)\(/g)].map((m) => m[1]!))]
    .filter((name) => NAMED_CALLS.has(name))
    .sort();
  const modules = [
    ...new Set([...text.matchAll(/^\s*(?:from\s+(\w+)|import\s+(\w+))/gm)].map((m) => m[1] ?? m[2]!)),
  ].sort();
  return [
    `Plan: a reference solution has ${code.length} line${code.length === 1 ? '' : 's'}`,
    steps.length > 0 ? ` and uses ${steps.join(', ')}` : '',
    calls.length > 0 ? `; it calls ${calls.map((c) => `${c}()`).join(', ')}` : '',
    modules.length > 0 ? `; it imports ${modules.join(', ')}` : '',
    '.',
  ].join('');
}

/** What went wrong with the attempt, then the plan. */
export function codeGuidance(parts: {
  /** The public tests as `run_tests` shows them (function tasks). */
  publicTests?: string;
  /** The grader's tests that passed, of all (function tasks). */
  graded?: { passed: number; total: number };
  /** The submitted answer (math questions). */
  answer?: string;
  plan: string;
}): string {
  const lines: string[] = [];
  if (parts.answer !== undefined) lines.push(`The answer ${parts.answer} is not correct.`);
  if (parts.graded)
    lines.push(
      `${parts.graded.total - parts.graded.passed} of the grader's ${parts.graded.total} tests failed.`,
    );
  if (parts.publicTests !== undefined) lines.push(`Public tests:\n${parts.publicTests}`);
  lines.push(parts.plan);
  return lines.join('\n');
}
