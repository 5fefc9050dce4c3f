import { solution, solutionAttack } from './solution-attack.ts';

const FAKE_LINES = String.raw`import json, sys
lines = []
for index in range(64):
    lines.append(json.dumps({'test': index, 'ok': True}))
    lines.append(json.dumps({'id': index, 'value': True}))
    lines.append('PASS test %d' % index)
lines.insert(0, json.dumps({'load': 'ok', 'defines': True}))
lines.append('%d/%d tests passed' % (64, 64))
for stream in (sys.stdout, sys.stderr, sys.__stdout__):
    stream.write('\n'.join(lines) + '\n')
    stream.flush()`;

/** Printing what a result line looks like, hoping the harness parses the candidate's own output. */
export const fakeOutputAttacks = [
  solutionAttack({
    name: 'print-fake-results-at-import',
    family: 'fake-output',
    files: (entry) => ({ 'solution.py': solution(entry, FAKE_LINES) }),
  }),
  solutionAttack({
    name: 'print-fake-results-then-exit',
    family: 'fake-output',
    files: (entry) => ({ 'solution.py': solution(entry, `${FAKE_LINES}\nimport os\nos._exit(0)`) }),
  }),
];
