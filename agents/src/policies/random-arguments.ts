import type { Rng } from '@toolgym/protocol';

type Schema = Record<string, unknown>;

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * A random value that satisfies a JSON Schema as MCP tools declare them (zod's `toJSONSchema`
 * output): objects with properties and `required`, strings with length bounds or enums, numbers
 * and integers with bounds, booleans, arrays with item schemas and size bounds, `const`, `enum`,
 * `anyOf`/`oneOf`, nullable types. Optional properties are included about half the time.
 */
export function randomValue(schema: Schema, rng: Rng, depth = 0): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum);
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(variants) && variants.length > 0) return randomValue(rng.pick(variants), rng, depth);
  const type = Array.isArray(schema.type)
    ? rng.pick(schema.type as string[])
    : (schema.type as string | undefined);
  switch (type) {
    case 'object':
      return randomObject(schema, rng, depth);
    case 'string':
      return randomString(schema, rng);
    case 'integer':
    case 'number': {
      const lo = numberBound(schema.minimum, schema.exclusiveMinimum, 1) ?? -100;
      const hi = numberBound(schema.maximum, schema.exclusiveMaximum, -1) ?? 100;
      return type === 'integer' ? rng.int(Math.ceil(lo), Math.floor(hi)) : lo + rng.next() * (hi - lo);
    }
    case 'boolean':
      return rng.next() < 0.5;
    case 'array': {
      const min = (schema.minItems as number | undefined) ?? 0;
      const max = Math.min((schema.maxItems as number | undefined) ?? min + 3, min + 3);
      const items = (schema.items as Schema | undefined) ?? {};
      return Array.from({ length: rng.int(min, max) }, () => randomValue(items, rng, depth + 1));
    }
    case 'null':
      return null;
    default:
      // An unconstrained schema (`{}`): any JSON value will do; a short string is the most useful.
      return randomString({}, rng);
  }
}

function randomObject(schema: Schema, rng: Rng, depth: number): Record<string, unknown> {
  const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const out: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (required.has(name) || (depth < 3 && rng.next() < 0.5))
      out[name] = randomValue(property, rng, depth + 1);
  }
  return out;
}

function randomString(schema: Schema, rng: Rng): string {
  const min = (schema.minLength as number | undefined) ?? 1;
  const max = Math.min((schema.maxLength as number | undefined) ?? min + 11, min + 11);
  return Array.from({ length: rng.int(min, Math.max(min, max)) }, () => rng.pick([...LETTERS])).join('');
}

/** The inclusive bound of `minimum`/`exclusiveMinimum` (draft 2020: a number; `direction` nudges inward). */
function numberBound(inclusive: unknown, exclusive: unknown, direction: 1 | -1): number | undefined {
  if (typeof exclusive === 'number') return exclusive + direction * 1e-6 * Math.max(1, Math.abs(exclusive));
  return typeof inclusive === 'number' ? inclusive : undefined;
}
