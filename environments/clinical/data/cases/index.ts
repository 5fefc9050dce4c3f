import type { ClinicalCaseInput } from '../../src/case.ts';
import { CARDIO_PULM_CASES } from './cardio-pulm.ts';
import { ENDO_ID_CASES } from './endo-id.ts';
import { GI_NEURO_CASES } from './gi-neuro.ts';
import { MISC_CASES } from './misc.ts';
import { RENAL_HEME_RHEUM_CASES } from './renal-heme-rheum.ts';

/** The built-in case bank, written by hand. */
export const BANK_CASES: ClinicalCaseInput[] = [
  ...CARDIO_PULM_CASES,
  ...GI_NEURO_CASES,
  ...ENDO_ID_CASES,
  ...RENAL_HEME_RHEUM_CASES,
  ...MISC_CASES,
];
