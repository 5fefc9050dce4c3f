import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Environment, EnvironmentClient } from '@toolgym/env-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sql from '../src/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const cliBin = path.join(root, 'cli/bin/toolgym.js');

describe('an SQL episode driven over MCP', () => {
  describe('stdio: `toolgym env serve sql`', () => {
    let client: EnvironmentClient;
    beforeAll(async () => {
      client = await EnvironmentClient.connect({
        kind: 'stdio',
        command: process.execPath,
        args: [cliBin, 'env', 'serve', 'sql', '--options', '{"queryTimeoutMs":2000}'],
        cwd: root,
      });
    });
    afterAll(async () => {
      await client?.close();
    });

    it('lists the tools with JSON Schemas and reports the task counts', async () => {
      const tools = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([
        'describe_table',
        'execute_sql',
        'list_tables',
        'submit_answer',
      ]);
      expect(tools.find((t) => t.name === 'execute_sql')?.inputSchema).toMatchObject({
        type: 'object',
        required: ['sql'],
      });
      const info = await client.info();
      expect(info.id).toBe('sql');
      expect(info.limits.maxTurns).toBe(6);
      expect(info.taskCounts.train + info.taskCounts.test).toBeGreaterThanOrEqual(900);
    });

    it('plays a whole episode: explore, err, recover, answer, get graded', async () => {
      const start = await client.start({ split: 'test', seed: 5 });
      expect(start.task.prompt).toMatch(/^Database: (geography|retail|library)/);
      expect(start.task).not.toHaveProperty('answer');
      const tables = await client.callTool('list_tables', {});
      expect(tables.isError).toBe(false);
      const refused = await client.callTool('execute_sql', { sql: 'DROP TABLE orders' });
      expect(refused).toMatchObject({ isError: true, errorCode: 'sql_refused', terminated: false });
      const slow = await client.callTool('execute_sql', {
        sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
      });
      expect(slow).toMatchObject({ isError: true, errorCode: 'query_timeout', terminated: false });
      const { calls } = await client.oracle();
      expect(calls.map((c) => c.name)).toEqual(['execute_sql', 'submit_answer']);
      const executed = await client.callTool(calls[0]!.name, calls[0]!.arguments);
      expect(executed.content).toMatch(/^\d+ rows?/);
      const submitted = await client.callTool(calls[1]!.name, calls[1]!.arguments);
      expect(submitted.terminated).toBe(true);
      const end = await client.end();
      expect(end.terminated).toBe(true);
      expect(end.reward.total).toBe(1);
      expect(end.reward.components.execution).toBe(1);
    });

    it('a wrong answer over MCP earns partial rewards only', async () => {
      await client.start({ split: 'train', seed: 9 });
      await client.callTool('submit_answer', { sql: 'SELECT 42' });
      const end = await client.end();
      expect(end.reward.components.execution).toBe(0);
      expect(end.reward.components.syntax).toBe(1);
      expect(end.reward.total).toBeLessThan(4 / 7 + 1e-9);
    });
  });

  it('in-process, with a Spider dataset chosen through the config', async () => {
    const env = new Environment(
      sql,
      sql.parseConfig({ dataset: `spider:${path.join(here, 'fixtures/spider')}` }),
    );
    const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
    try {
      const start = await client.start({ taskId: 'spider/dev/1' });
      expect(start.task.prompt).toContain('Find the first names of students who have a dog.');
      const described = await client.callTool('describe_table', { table: 'Pets' });
      expect(described.content).toContain('CREATE TABLE Pets');
      await client.callTool('submit_answer', {
        sql: "SELECT s.Fname FROM Pets p JOIN Has_Pet h ON h.PetID = p.PetID JOIN Student s ON s.StuID = h.StuID WHERE p.PetType = 'dog'",
      });
      expect((await client.end()).reward.components.execution).toBe(1);
      // Tracy owns two dogs: the gold join lists her twice, and Spider compares multisets.
      await client.start({ taskId: 'spider/dev/1' });
      await client.callTool('submit_answer', {
        sql: "SELECT Fname FROM Student WHERE StuID IN (SELECT StuID FROM Has_Pet JOIN Pets USING (PetID) WHERE PetType = 'dog')",
      });
      expect((await client.end()).reward.components.execution).toBe(0);
    } finally {
      await client.close();
    }
  });
});
