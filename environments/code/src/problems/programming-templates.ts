import { ALGORITHM_TEMPLATES } from './algorithms.ts';
import { CLASSIC_TEMPLATES } from './classic.ts';
import { NUMBER_TEMPLATES } from './numbers.ts';
import { SEQUENCE_TEMPLATES } from './sequences.ts';
import { STRING_TEMPLATES } from './strings.ts';
import type { ProgrammingTemplate } from './template.ts';

/** Every programming problem family; a family's variants differ only in their constants. */
export const PROGRAMMING_TEMPLATES: ProgrammingTemplate[] = [
  ...CLASSIC_TEMPLATES,
  ...NUMBER_TEMPLATES,
  ...STRING_TEMPLATES,
  ...SEQUENCE_TEMPLATES,
  ...ALGORITHM_TEMPLATES,
];
