/**
 * A stdio MCP server for the SQL environment without the CLI around it: the same `serveStdio`
 * that `toolgym env serve sql` calls, minus discovering every other environment, so that
 * starting 32 servers for the bench takes seconds instead of minutes. Options come as JSON in argv[2].
 */
import { Environment, serveStdio } from '@toolgym/env-kit';
import sql from '../src/index.ts';

await serveStdio(new Environment(sql, sql.parseConfig(JSON.parse(process.argv[2] ?? '{}'))));
