/** Values of one question instance, as the `params` query returned them. */
export type TemplateParams = Record<string, string | number>;

export type Difficulty = 'easy' | 'medium' | 'hard';
export type Skill =
  | 'single-table'
  | 'join'
  /** Three joins or more (four tables or more). */
  | 'multi-join'
  | 'aggregation'
  | 'nesting'
  | 'ordering'
  | 'dates-and-nulls'
  /** A window function (`… OVER (…)`): ranks, running totals, the previous row. */
  | 'window';

/**
 * A family of questions over one database: `params` is a query over the data whose rows fill
 * the blanks, each phrasing (at least four) says the same question differently, and `sql` is the
 * gold query. Gold answers come from running `sql`, never from the template. A question whose
 * answer is not a whole number says how to round it, since results compare exactly.
 */
export interface QuestionTemplate {
  id: string;
  difficulty: Difficulty;
  skill: Skill;
  params: string;
  sql(p: TemplateParams): string;
  phrasings: Array<(p: TemplateParams) => string>;
}

/** A SQL string literal. */
export function lit(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

/** `alias.first_name = '…' AND alias.last_name = '…'`: a person picked by the `first_name` and `last_name` blanks. */
export function personIs(p: TemplateParams, alias: string): string {
  return `${alias}.first_name = ${lit(p.first_name!)} AND ${alias}.last_name = ${lit(p.last_name!)}`;
}

/** The `first_name` and `last_name` blanks as a name in a question. */
export function fullName(p: TemplateParams): string {
  return `${p.first_name} ${p.last_name}`;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** 'YYYY-MM' → 'April 2023'. */
export function monthName(yearMonth: string | number): string {
  const [year, month] = String(yearMonth).split('-');
  return `${MONTHS[Number(month) - 1] ?? month} ${year}`;
}
