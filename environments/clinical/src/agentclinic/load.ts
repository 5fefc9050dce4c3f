import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DataFileReport } from '@toolgym/env-kit';
import { ToolGymError } from '@toolgym/protocol';
import type { ClinicalCase, ClinicalCaseInput } from '../case.ts';
import { CaseDataError, validateCase } from '../case-bank.ts';
import { defaultCatalogue, type TestCatalogue } from '../catalogue.ts';
import { LeakMatcher, leakTermsOf } from '../leak-check.ts';
import { NejmRecordSchema, nejmCase } from './nejm.ts';
import { OsceRecordSchema, osceCase } from './osce.ts';

/** An AgentClinic file that cannot be used at all: missing, unreadable, or with no case in it. */
export class AgentClinicFileError extends ToolGymError {}

/** What loading one AgentClinic file kept, and every record it skipped or changed, with the reason. */
export interface AgentClinicLoad extends DataFileReport {
  cases: ClinicalCase[];
}

const WITHHELD = '[withheld]';
/** The result of a test whose catalogue normal would name the diagnosis, for an imported case that does not report it. */
const NOT_RECORDED = 'No result is recorded for this test.';

/**
 * The diagnosis withheld from every text of an imported case the agent could see (AgentClinic's
 * measurement actor reads results such as "consistent with pyoderma gangrenosum" to the doctor;
 * here the name becomes "[withheld]"). Returns where it was withheld.
 */
function withholdDiagnosis(input: ClinicalCaseInput, catalogue: TestCatalogue): string[] {
  const matcher = new LeakMatcher(
    leakTermsOf({
      family: input.family,
      diagnosis: { name: input.diagnosis.name, aliases: input.diagnosis.aliases ?? [] },
    }),
  );
  const places: string[] = [];
  const clean = (where: string, text: string) => {
    const { text: out, count } = matcher.withhold(text, WITHHELD);
    if (count > 0) places.push(where);
    return out;
  };
  const cleanRecord = <T extends string | number>(
    where: string,
    record: Partial<Record<string, T>> | undefined,
  ) =>
    Object.fromEntries(
      Object.entries(record ?? {}).map(([k, v]) => [
        k,
        typeof v === 'string' ? clean(`${where}.${k}`, v) : v,
      ]),
    );
  input.complaint = clean('complaint', input.complaint);
  if (input.objective) input.objective = clean('objective', input.objective);
  input.history = cleanRecord('history', input.history);
  input.symptoms = cleanRecord('symptoms', input.symptoms) as Record<string, string>;
  input.exam = cleanRecord('exam', input.exam);
  const renamed = new Map<string, string>();
  input.results = Object.fromEntries(
    Object.entries(input.results ?? {}).map(([name, value]) => {
      const own = clean(`the name of test '${name}'`, name);
      renamed.set(name, own);
      return [own, typeof value === 'string' ? clean(`results.${name}`, value) : value];
    }),
  );
  input.keyExams = (input.keyExams ?? []).map((k) => renamed.get(k) ?? k);
  // A normal result that names the diagnosis ("pulmonary embolism excluded") would contradict the case.
  for (const test of catalogue.all()) {
    if (
      typeof test.normal === 'string' &&
      input.results[test.id] === undefined &&
      matcher.find(test.normal).length > 0
    ) {
      input.results[test.id] = NOT_RECORDED;
      places.push(`the normal result of ${test.id} (now '${NOT_RECORDED}')`);
    }
  }
  return places;
}

function recordFormat(json: unknown): 'osce' | 'nejm' | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  if ('OSCE_Examination' in json) return 'osce';
  if ('patient_info' in json || 'answers' in json) return 'nejm';
  return undefined;
}

const issues = (error: { issues: Array<{ path: PropertyKey[]; message: string }> }) =>
  error.issues.map((i) => `${i.path.map(String).join('.') || 'record'}: ${i.message}`).join('; ');

type RecordOutcome =
  | { skipped: string }
  | { clinicalCase: ClinicalCase; changes: string[]; hasImage: boolean };

/** One line of a file as a case, or why it is not one. */
function readRecord(text: string, id: string, source: string, catalogue: TestCatalogue): RecordOutcome {
  if (text.trim().length === 0) return { skipped: 'blank line' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { skipped: `not JSON: ${(error as Error).message}` };
  }
  const format = recordFormat(json);
  if (!format)
    return { skipped: 'neither an OSCE record (OSCE_Examination) nor a NEJM record (patient_info, answers)' };
  let converted: ReturnType<typeof osceCase>;
  let hasImage = false;
  if (format === 'osce') {
    const parsed = OsceRecordSchema.safeParse(json);
    if (!parsed.success) return { skipped: issues(parsed.error) };
    converted = osceCase(parsed.data, id, catalogue);
  } else {
    const parsed = NejmRecordSchema.safeParse(json);
    if (!parsed.success) return { skipped: issues(parsed.error) };
    hasImage = typeof parsed.data.image_url === 'string' && parsed.data.image_url.length > 0;
    converted = nejmCase(parsed.data, id, catalogue);
  }
  if ('error' in converted) return { skipped: converted.error };
  converted.input.source = source;
  const withheld = withholdDiagnosis(converted.input, catalogue);
  try {
    const clinicalCase = validateCase(converted.input, catalogue, { strictTests: false });
    const changes = [
      ...(withheld.length > 0 ? [`the diagnosis was withheld from ${withheld.join(', ')}`] : []),
      ...(converted.droppedKeyExams.length > 0
        ? [`orderable but not required (beyond 8 key exams): ${converted.droppedKeyExams.join(', ')}`]
        : []),
    ];
    return { clinicalCase, changes, hasImage };
  } catch (error) {
    if (!(error instanceof CaseDataError)) throw error;
    return { skipped: error.message };
  }
}

/**
 * Reads one of AgentClinic's published JSONL files (agentclinic_medqa.jsonl, …_medqa_extended,
 * …_nejm, …_nejm_extended; SamuelSchmidgall/AgentClinic), one record a line, OSCE and NEJM records
 * told apart by their keys. Every line loads or is reported: a line that is not JSON, not a record
 * of either format, or has no diagnosis is skipped with the reason; a loaded record whose texts
 * named the diagnosis is reported with where it was withheld. A file that cannot be read, or that
 * holds no case at all, is refused at once.
 */
export function loadAgentClinicFile(
  file: string,
  catalogue: TestCatalogue = defaultCatalogue(),
): AgentClinicLoad {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AgentClinicFileError(
      'agentclinic_file_unreadable',
      `cannot read AgentClinic file '${file}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'give the path of a JSONL file from SamuelSchmidgall/AgentClinic (agentclinic_medqa.jsonl, agentclinic_nejm_extended.jsonl, …)',
    );
  }
  const base = path
    .basename(file, path.extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
  const lines = content.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const load: AgentClinicLoad = { file, records: lines.length, loaded: 0, notices: [], cases: [] };
  let images = 0;
  for (const [index, text] of lines.entries()) {
    const line = index + 1;
    const outcome = readRecord(text, `ac-${base}-${line}`, `${path.basename(file)}:${line}`, catalogue);
    if ('skipped' in outcome) {
      load.notices.push({ line, skipped: true, message: outcome.skipped });
      continue;
    }
    load.cases.push(outcome.clinicalCase);
    load.loaded++;
    if (outcome.hasImage) images++;
    for (const message of outcome.changes) load.notices.push({ line, skipped: false, message });
  }
  if (images > 0)
    load.notices.unshift({
      skipped: false,
      message: `${images} NEJM records have an image that AgentClinic's NEJM setting shows the doctor; here every case is text-only, as in AgentClinic's NEJM-extended setting`,
    });
  if (load.cases.length === 0) {
    const first = load.notices.find((n) => n.skipped);
    throw new AgentClinicFileError(
      'agentclinic_no_cases',
      `'${file}' holds no AgentClinic case: ${load.records} lines, none loads${first ? ` (line ${first.line}: ${first.message})` : ''}`,
      "give a JSONL file of AgentClinic's MedQA (OSCE_Examination records) or NEJM (patient_info, answers) format",
    );
  }
  return load;
}

/** What makes two imported cases the same case, whatever file or format they came from. */
function fingerprint(c: ClinicalCase): string {
  return JSON.stringify([c.diagnosis.name, c.complaint, c.history, c.exam, c.results]);
}

/**
 * Several AgentClinic files at once. The extended files repeat the base ones (the first 107 records
 * of agentclinic_medqa_extended.jsonl are agentclinic_medqa.jsonl; NEJM-extended holds the 15 NEJM
 * cases), so a case already loaded from an earlier line is skipped and reported, not loaded twice:
 * twice would put one case in train and its copy in a test split.
 */
export function loadAgentClinicFiles(
  files: readonly string[],
  catalogue: TestCatalogue = defaultCatalogue(),
): AgentClinicLoad[] {
  const seen = new Map<string, string>();
  return files.map((file) => {
    const load = loadAgentClinicFile(file, catalogue);
    const kept: ClinicalCase[] = [];
    for (const c of load.cases) {
      const key = fingerprint(c);
      const first = seen.get(key);
      if (first) {
        const line = Number(c.source.slice(c.source.lastIndexOf(':') + 1));
        load.notices = load.notices.filter((n) => n.line !== line);
        load.notices.push({ line, skipped: true, message: `the same case as ${first}, loaded once` });
        continue;
      }
      seen.set(key, c.source);
      kept.push(c);
    }
    load.notices.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return { ...load, cases: kept, loaded: kept.length };
  });
}
