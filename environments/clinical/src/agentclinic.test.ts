import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Environment } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import { loadAgentClinicJsonl } from './agentclinic.ts';
import { createClinicalEnvironment } from './environment.ts';

const fixture = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test/fixtures/agentclinic-sample.jsonl',
);

describe('AgentClinic JSONL loader', () => {
  it('loads OSCE cases and reports the lines it could not use, with the reason', () => {
    const { cases, skipped } = loadAgentClinicJsonl(fixture);
    expect(cases.map((c) => c.diagnosis.name)).toEqual([
      'Type 2 Diabetes Mellitus',
      'Pulmonary Embolism',
      'Myasthenia Gravis',
    ]);
    expect(skipped.map((s) => s.line)).toEqual([4, 5, 6]);
    expect(skipped[0]?.reason).toMatch(/Correct_Diagnosis/);
    expect(skipped[1]?.reason).toMatch(/not JSON/);
    expect(skipped[2]?.reason).toMatch(/names the diagnosis/);
  });

  it('maps demographics, vitals, exam systems and tests onto the case schema', () => {
    const [diabetes, pe] = loadAgentClinicJsonl(fixture).cases;
    expect(diabetes).toMatchObject({ age: 54, sex: 'male', source: 'agentclinic' });
    expect(diabetes?.vitals).toEqual([36.8, 84, '148/92', 16, 98]);
    expect(diabetes?.exam.neurological).toMatch(/monofilament/);
    expect(diabetes?.keyExams).toEqual(expect.arrayContaining(['fasting_glucose', 'hba1c', 'urinalysis']));
    expect(pe?.vitals.slice(1)).toEqual([115, '118/76', 24, 92]);
    expect(pe?.exam.extremities).toMatch(/calf/);
    expect(pe?.keyExams).toEqual(['d_dimer', 'ctpa', 'Wells Score']);
    expect(pe?.objective).toMatch(/long flight/);
    expect(diabetes?.denies).toEqual(expect.arrayContaining(['chest_pain', 'fever', 'dysuria']));
    expect(pe?.denies).toEqual(expect.arrayContaining(['cough', 'fever']));
  });

  it('plays: the oracle solves every imported case, including a test only the case knows', async () => {
    const definition = createClinicalEnvironment();
    const env = new Environment(
      definition,
      definition.parseConfig({ includeBank: false, agentClinicFiles: [fixture] }),
    );
    const tasks = await env.tasks();
    expect(tasks).toHaveLength(3);
    expect(new Set(tasks.map((t) => t.split))).toEqual(new Set(['train', 'test']));
    for (const task of tasks) {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const call of definition.oracle!(task, env.config)) {
        const outcome = await episode.callTool(call.name, call.arguments);
        expect(outcome.isError, outcome.content).toBe(false);
      }
      const wells = episode.state.hospital.ordered.find((o) => o.id === 'Wells Score');
      if (episode.state.clinicalCase.id.includes('pulmonary')) expect(wells?.lines[0]?.text).toMatch(/7\.5/);
      const { reward } = await episode.end();
      expect(reward.components).toMatchObject({ completion: 1, diagnosis: 1, exam_f1: 1 });
    }
  });
});
