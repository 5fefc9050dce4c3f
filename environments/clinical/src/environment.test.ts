import { checkEnvironment, Environment } from '@toolgym/env-kit';
import type { RubricJudge } from '@toolgym/tools/rubric';
import { describe, expect, it } from 'vitest';
import { taskIdOf } from './case-bank.ts';
import { createClinicalEnvironment } from './environment.ts';
import clinical from './index.ts';
import { createModelPatientSimulator } from './patient/simulator.ts';

const env = new Environment(clinical, clinical.parseConfig({}));

async function play(taskId: string, calls: Array<[string, Record<string, unknown>]>) {
  const episode = await env.openEpisode({ taskId });
  const outcomes = [];
  for (const [name, args] of calls) outcomes.push(await episode.callTool(name, args));
  return { episode, outcomes, end: () => episode.end() };
}

describe('clinical environment', () => {
  it('passes the kit conformance check', async () => {
    const report = await checkEnvironment(clinical);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('gives the oracle the full DiagGym reward on every task (0.1 + 1 + 0.5)', async () => {
    for (const task of await env.tasks()) {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const call of clinical.oracle!(task, env.config)) {
        const outcome = await episode.callTool(call.name, call.arguments);
        expect(outcome.isError, `${task.id}: ${outcome.content}`).toBe(false);
      }
      const { reward, terminated } = await episode.end();
      expect(terminated).toBe(true);
      expect(reward.total, task.id).toBeCloseTo(1.6);
      expect(reward.components.rubric, task.id).toBeGreaterThan(0.7);
    }
  });

  it('hides the diagnosis from the agent: not in the task id, the prompt or task meta', async () => {
    for (const task of await env.tasks()) {
      const gold = (task.answer as { diagnosis: string }).diagnosis.toLowerCase();
      expect(task.prompt.toLowerCase()).not.toContain(gold);
      expect(task.id).toMatch(/^case-[0-9a-z]{7}$/);
      expect(JSON.stringify(task.meta).toLowerCase()).not.toContain(gold);
    }
  });

  it('returns unknown tests and body systems as model-visible errors with what is available', async () => {
    const { outcomes, episode } = await play(taskIdOf('card-inferior-stemi'), [
      ['order_test', { name: 'quantum troponin scan' }],
      ['physical_exam', { system: 'aura' }],
      ['order_test', { name: 42 }],
      ['ask_patient', {}],
      ['order_test', { name: 'x'.repeat(500) }],
    ]);
    expect(outcomes[0]).toMatchObject({ isError: true, errorCode: 'test_not_available' });
    expect(outcomes[0]?.content).toMatch(/not available.*Closest available tests: .*troponin/i);
    expect(outcomes[1]).toMatchObject({ isError: true, errorCode: 'unknown_system' });
    expect(outcomes[1]?.content).toMatch(/cardiovascular/);
    expect(outcomes[2]).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
    expect(outcomes[3]?.content).toMatch(/'question'/);
    expect(outcomes[4]).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
    await episode.close();
  });

  it('reports results with units and flags, bills each test once and holds slow results back', async () => {
    const { outcomes, end } = await play(taskIdOf('card-inferior-stemi'), [
      ['order_test', { name: 'troponin' }],
      ['order_test', { name: 'echocardiogram' }],
      ['order_test', { name: 'hs troponin' }],
      ['ask_patient', { question: 'Do you smoke?' }],
      ['ask_patient', { question: 'Any allergies?' }],
    ]);
    expect(outcomes[0]?.content).toMatch(/2\.8 ng\/mL \(ref 0-0\.04 ng\/mL\) \[H\]/);
    expect(outcomes[1]?.content).toMatch(/back in 2 turns/);
    expect(outcomes[2]?.content).toMatch(/already ordered \(no extra charge\)/);
    expect(outcomes[2]?.content).not.toMatch(/echocardiogram — result/i);
    expect(outcomes[3]?.content).toMatch(/\[Results now available\][\s\S]*ejection fraction 60%/);
    expect(outcomes[4]?.content).not.toMatch(/Results now available/);
    const { reward } = await end();
    expect(reward.info.spent).toBe(530);
    expect(reward.components.completion).toBe(0);
    expect(reward.components.diagnosis).toBe(0);
  });

  it('answers an exam the case does not mention with a normal result, and gives vitals', async () => {
    const { outcomes, episode } = await play(taskIdOf('card-inferior-stemi'), [
      ['order_test', { name: 'TSH' }],
      ['physical_exam', { system: 'vital signs' }],
      ['physical_exam', { system: 'belly' }],
    ]);
    expect(outcomes[0]?.content).toMatch(/Ordered Thyroid-stimulating hormone \(\$25\)/);
    expect(outcomes[1]?.content).toMatch(/heart rate 104\/min, blood pressure 152\/94 mmHg/);
    expect(outcomes[2]?.content).toMatch(/abdominal.*Soft, non-tender/);
    await episode.close();
  });

  it('scores a shotgun diagnosis 0 and penalises invented evidence in the rubric', async () => {
    const shotgun = await play(taskIdOf('pulm-pulmonary-embolism'), [
      ['ask_patient', { question: 'What brings you in?' }],
      ['order_test', { name: 'd-dimer' }],
      [
        'diagnose',
        {
          diagnosis: 'Pulmonary embolism, pneumonia, pneumothorax, pericarditis',
          reasoning: 'The CT pulmonary angiogram shows a clot.',
        },
      ],
    ]);
    const { reward } = await shotgun.end();
    expect(reward.components.diagnosis).toBe(0);
    expect(reward.info.diagnosisVerdict).toBe('competing-diagnoses');
    const verdicts = reward.info.rubricVerdicts as Array<{ id: string; met?: boolean }>;
    expect(verdicts.find((v) => v.id === 'unsupported-evidence')?.met).toBe(true);
    expect(verdicts.find((v) => v.id === 'coherent-reasoning')?.met).toBeUndefined();
  });

  it('penalises diagnosing with no work-up', async () => {
    const { end } = await play(taskIdOf('pulm-pulmonary-embolism'), [
      ['diagnose', { diagnosis: 'Pulmonary embolism', reasoning: '' }],
    ]);
    const { reward } = await end();
    expect(reward.components.diagnosis).toBe(1);
    expect(reward.components.exam_f1).toBe(0);
    const verdicts = reward.info.rubricVerdicts as Array<{ id: string; met?: boolean }>;
    expect(verdicts.find((v) => v.id === 'premature-closure')?.met).toBe(true);
  });

  it('grades a diagnosis given as final text when the agent never called diagnose', async () => {
    const episode = await env.openEpisode({ taskId: taskIdOf('gi-acute-appendicitis') });
    const { reward, terminated } = await episode.end('I think this is acute appendicitis.');
    expect(terminated).toBe(false);
    expect(reward.components).toMatchObject({ completion: 0, diagnosis: 1 });
  });

  it('asks a judge about the criteria rules cannot decide', async () => {
    const asked: string[] = [];
    /** Test double of a rubric judge: approves everything, records what it was asked. */
    const approvingJudgeDouble: RubricJudge = {
      judge: async ({ criterion, context }) => {
        asked.push(criterion.id);
        expect(context).toMatch(/Correct diagnosis: Acute appendicitis/);
        return { met: true };
      },
    };
    const definition = createClinicalEnvironment({ judge: approvingJudgeDouble });
    const judged = new Environment(definition, definition.parseConfig({ weights: { rubric: 1 } }));
    const episode = await judged.openEpisode({ taskId: taskIdOf('gi-acute-appendicitis') });
    await episode.callTool('diagnose', { diagnosis: 'Acute appendicitis', reasoning: 'Migratory pain.' });
    const { reward } = await episode.end();
    expect(asked).toEqual(['coherent-reasoning']);
    expect(reward.info.rubricUngraded).toBe(0);
  });

  it('plays with a model-backed patient behind the same interface', async () => {
    /** Test double of an agents Policy in message mode: answers every question with one sentence. */
    const cannedPolicyDouble = {
      prompts: [] as string[],
      async generate(request: { messages: Array<{ content: string }> }) {
        this.prompts.push(request.messages.map((m) => m.content).join('\n'));
        return { text: 'It began two hours ago.' };
      },
    };
    const definition = createClinicalEnvironment({
      patient: createModelPatientSimulator({ model: cannedPolicyDouble }),
    });
    const withModel = new Environment(definition, definition.parseConfig({}));
    const episode = await withModel.openEpisode({ taskId: taskIdOf('card-inferior-stemi') });
    const outcome = await episode.callTool('ask_patient', { question: 'When did it start?' });
    expect(outcome.content).toBe('Patient: It began two hours ago.');
    expect(cannedPolicyDouble.prompts[0]).toContain('crushing pain');
    expect(cannedPolicyDouble.prompts[0]).not.toMatch(/myocardial|STEMI|ST elevation/i);
    const { reward } = await episode.end();
    expect(
      (reward.info.rubricVerdicts as Array<{ id: string; met?: boolean }>).find(
        (v) => v.id === 'took-history',
      )?.met,
    ).toBe(false);
  });

  it('keeps rewards in the declared range and refuses weights that would leave it', () => {
    expect(clinical.rewardRange).toEqual([0, 3]);
    expect(() => clinical.parseConfig({ weights: { diagnosis: 2, rubric: 2 } })).toThrow(/at most 3/);
    expect(() => clinical.parseConfig({ weights: { diagnosis: -1 } })).toThrow(/weights.diagnosis/);
    expect(() => clinical.parseConfig({ includeBank: false })).toThrow(/no cases/);
    expect(() => clinical.parseConfig({ maxTurns: 1 })).toThrow(/maxTurns/);
  });

  it('splits cases into train, test (held-out families) and test-iid, and filters by specialty', async () => {
    expect((await env.tasksOf('test')).length).toBeGreaterThanOrEqual(35);
    expect((await env.tasksOf('train')).length).toBeGreaterThanOrEqual(80);
    expect((await env.tasksOf('test-iid')).length).toBeGreaterThanOrEqual(1);
    const neuro = new Environment(clinical, clinical.parseConfig({ specialties: ['neurology'] }));
    const tasks = await neuro.tasks();
    expect(tasks.length).toBeGreaterThanOrEqual(5);
    expect(tasks.every((t) => t.meta.specialty === 'neurology')).toBe(true);
  });
});
