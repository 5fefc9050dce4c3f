import type { ClinicalCaseInput } from '../../src/case.ts';
import { CARDIO_PULM_CASES } from './cardio-pulm.ts';
import { CARDIO_PULM_MORE_CASES } from './cardio-pulm-more.ts';
import { ENDO_ID_CASES } from './endo-id.ts';
import { ENDO_ID_MORE_CASES } from './endo-id-more.ts';
import { GI_NEURO_CASES } from './gi-neuro.ts';
import { GI_NEURO_MORE_CASES } from './gi-neuro-more.ts';
import { MISC_CASES } from './misc.ts';
import { OBGYN_TOX_PSYCH_CASES } from './obgyn-tox-psych.ts';
import { RENAL_HEME_RHEUM_CASES } from './renal-heme-rheum.ts';
import { RENAL_HEME_RHEUM_MORE_CASES } from './renal-heme-rheum-more.ts';
import { SKIN_SENSES_CHILDREN_CASES } from './skin-senses-children.ts';

/** The built-in case bank, written by hand. */
export const BANK_CASES: ClinicalCaseInput[] = [
  ...CARDIO_PULM_CASES,
  ...GI_NEURO_CASES,
  ...ENDO_ID_CASES,
  ...RENAL_HEME_RHEUM_CASES,
  ...MISC_CASES,
  ...CARDIO_PULM_MORE_CASES,
  ...GI_NEURO_MORE_CASES,
  ...ENDO_ID_MORE_CASES,
  ...RENAL_HEME_RHEUM_MORE_CASES,
  ...OBGYN_TOX_PSYCH_CASES,
  ...SKIN_SENSES_CHILDREN_CASES,
];
