import type { Rng } from '@toolgym/protocol';

/**
 * Tool arguments made from a tool's JSON Schema alone, as any agent could make them: random valid
 * arguments, and arguments whose every text field carries one given text. The subset of JSON
 * Schema that zod emits for tool inputs is understood (object, string, number, integer, boolean,
 * array, enum, const, anyOf/oneOf, nullable types); `pattern` is not, so such a field may fail
 * validation, which the episode reports like any bad call.
 */
type Schema = Record<string, unknown>;

const asSchema = (value: unknown): Schema => (typeof value === 'object' && value !== null ? (value as Schema) : {});
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

function typeOf(schema: Schema): string | undefined {
  const type = schema.type;
  if (Array.isArray(type)) return type.find((t) => t !== 'null') as string | undefined;
  return typeof type === 'string' ? type : undefined;
}

function alternatives(schema: Schema): Schema[] | undefined {
  const options = schema.anyOf ?? schema.oneOf;
  return Array.isArray(options) ? options.map(asSchema).filter((o) => typeOf(o) !== 'null') : undefined;
}

function bounds(schema: Schema, integer: boolean): [number, number] {
  let lo = num(schema.minimum) ?? (num(schema.exclusiveMinimum) !== undefined ? num(schema.exclusiveMinimum)! + (integer ? 1 : 1e-6) : -1000);
  let hi = num(schema.maximum) ?? (num(schema.exclusiveMaximum) !== undefined ? num(schema.exclusiveMaximum)! - (integer ? 1 : 1e-6) : 1000);
  if (integer) {
    lo = Math.ceil(lo);
    hi = Math.floor(hi);
  }
  return lo <= hi ? [lo, hi] : [lo, lo];
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Random arguments that satisfy `schema` (types, bounds, lengths, enums, required keys). */
export function sampleArguments(schema: unknown, rng: Rng): Record<string, unknown> {
  const value = sample(asSchema(schema), rng, 0);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sample(schema: Schema, rng: Rng, depth: number): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum);
  const options = alternatives(schema);
  if (options && options.length > 0) return sample(rng.pick(options), rng, depth);
  switch (typeOf(schema)) {
    case 'string': {
      const min = num(schema.minLength) ?? 1;
      const max = Math.max(min, Math.min(num(schema.maxLength) ?? 24, min + 24));
      return Array.from({ length: rng.int(min, max) }, () => rng.pick([...LETTERS])).join('');
    }
    case 'integer': {
      const [lo, hi] = bounds(schema, true);
      return rng.int(lo, hi);
    }
    case 'number': {
      const [lo, hi] = bounds(schema, false);
      return lo + rng.next() * (hi - lo);
    }
    case 'boolean':
      return rng.next() < 0.5;
    case 'array': {
      const min = num(schema.minItems) ?? 0;
      const max = Math.max(min, Math.min(num(schema.maxItems) ?? 3, min + 3));
      return depth > 4 ? [] : Array.from({ length: rng.int(min, max) }, () => sample(asSchema(schema.items), rng, depth + 1));
    }
    case 'object': {
      const properties = asSchema(schema.properties);
      const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(properties)) {
        if (depth > 4 && !required.has(key)) continue;
        if (required.has(key) || rng.next() < 0.5) out[key] = sample(asSchema(sub), rng, depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}

/**
 * Arguments in which every text field carries `text` (cut to the field's `maxLength`, and padded
 * to its `minLength`), every list holds that text once, and every other field takes its least value.
 */
export function fillArguments(schema: unknown, text: string): Record<string, unknown> {
  const value = fill(asSchema(schema), text, 0);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function fill(schema: Schema, text: string, depth: number): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const options = alternatives(schema);
  if (options && options.length > 0) return fill(options.find((o) => typeOf(o) === 'string') ?? options[0]!, text, depth);
  switch (typeOf(schema)) {
    case 'string': {
      const max = num(schema.maxLength);
      const cut = max !== undefined ? text.slice(0, max) : text;
      return cut.padEnd(num(schema.minLength) ?? 0, ' ');
    }
    case 'integer':
    case 'number': {
      const [lo, hi] = bounds(schema, typeOf(schema) === 'integer');
      return lo <= 0 && 0 <= hi ? 0 : lo;
    }
    case 'boolean':
      return false;
    case 'array': {
      const min = num(schema.minItems) ?? 0;
      return depth > 4 ? [] : Array.from({ length: Math.max(1, min) }, () => fill(asSchema(schema.items), text, depth + 1));
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(asSchema(schema.properties))) out[key] = fill(asSchema(sub), text, depth + 1);
      return out;
    }
    default:
      return null;
  }
}
