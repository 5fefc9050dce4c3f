import type { Task } from '@toolgym/protocol';
import { splitOf } from '@toolgym/protocol';
import type { RetrievalDocument } from '@toolgym/tools';
import { docIds, slug } from '../corpus/generate-corpus.ts';
import type { WorldFacts } from '../corpus/world-facts.ts';
import { MentionIndex } from './cooccurrence.ts';
import { promptFor, type SearchAnswer, type SearchTaskMeta } from './search-answer.ts';

/** A question before checking: its gold is computed from the facts, never typed. */
interface Candidate {
  id: string;
  /** What decides the split: questions about one country land in one split. */
  splitKey: string;
  type: string;
  question: string;
  entity: string;
  answers: string[];
  supportingDocs: string[];
}

/** The answers and their diacritic-free spellings ("Bogotá", "Bogota"), without duplicates. */
function withFolded(...answers: string[]): string[] {
  return [...new Set(answers.flatMap((a) => [a, a.normalize('NFKD').replace(/\p{M}/gu, '')]))];
}

function candidates(facts: WorldFacts): Candidate[] {
  const out: Candidate[] = [];
  const capitalOwners = new Map<string, number>();
  for (const c of facts.countries)
    for (const cap of c.capitals) capitalOwners.set(cap, (capitalOwners.get(cap) ?? 0) + 1);
  const languageByName = new Map(facts.languages.map((l) => [l.name, l]));
  const currencyNameCount = new Map<string, number>();
  for (const cur of facts.currencies)
    currencyNameCount.set(cur.name, (currencyNameCount.get(cur.name) ?? 0) + 1);

  for (const c of facts.countries) {
    const country = docIds.country(c);
    const onlyCurrency = c.currencies.length === 1 ? c.currencies[0]! : undefined;
    const onlyLanguage = c.languages.length === 1 ? languageByName.get(c.languages[0]!) : undefined;
    const add = (
      type: string,
      entity: string,
      question: string,
      answers: string[],
      supportingDocs: string[],
      idStem = c.code,
    ) =>
      out.push({
        id: `${type}/${idStem}`,
        splitKey: c.code,
        type,
        question,
        entity,
        answers,
        supportingDocs,
      });

    // Single-hop: the answer is in one document.
    if (c.capitals.length === 1) {
      add('capital_of', c.name, `What is the capital of ${c.name}?`, withFolded(c.capitals[0]!), [
        docIds.city(c, c.capitals[0]!),
      ]);
    }
    if (onlyCurrency) {
      add(
        'currency_of',
        c.name,
        `Which currency is used in ${c.name}?`,
        withFolded(onlyCurrency.name, onlyCurrency.code),
        [country],
      );
    }
    add('subregion_of', c.name, `In which subregion of the world is ${c.name}?`, withFolded(c.subregion), [
      country,
    ]);

    // Multi-hop from a capital: the city article names the country, the country article the fact.
    for (const capital of c.capitals) {
      if (capitalOwners.get(capital) !== 1) continue; // "the country whose capital is Kingston" would be ambiguous
      const city = docIds.city(c, capital);
      const stem = `${c.code}-${slug(capital)}`;
      const viaCapital = `the country whose capital is ${capital}`;
      if (onlyCurrency) {
        add(
          'currency_via_capital',
          capital,
          `Which currency is used in ${viaCapital}?`,
          withFolded(onlyCurrency.name, onlyCurrency.code),
          [city, country],
          stem,
        );
        add(
          'currency_code_via_capital',
          capital,
          `What is the ISO 4217 code of the currency used in ${viaCapital}?`,
          [onlyCurrency.code],
          [city, country, docIds.currency(onlyCurrency.code)],
          stem,
        );
      }
      if (onlyLanguage) {
        const names = withFolded(onlyLanguage.name, ...(onlyLanguage.native ? [onlyLanguage.native] : []));
        add(
          'language_via_capital',
          capital,
          `What is the official language of ${viaCapital}?`,
          names,
          [city, country],
          stem,
        );
        if (onlyLanguage.iso6391) {
          add(
            'language_code_via_capital',
            capital,
            `What is the ISO 639-1 code of the official language of ${viaCapital}?`,
            [onlyLanguage.iso6391],
            [city, country, docIds.language(onlyLanguage)],
            stem,
          );
        }
      }
      if (c.continent) {
        add(
          'continent_via_capital',
          capital,
          `On which continent is ${viaCapital}?`,
          withFolded(c.continent),
          [city, country],
          stem,
        );
      }
    }
  }

  for (const cur of facts.currencies) {
    if (currencyNameCount.get(cur.name) !== 1) continue;
    const splitKey = `currency:${cur.code}`;
    out.push({
      id: `currency_code/${cur.code.toLowerCase()}`,
      splitKey,
      type: 'currency_code',
      question: `What is the ISO 4217 code of the ${cur.name}?`,
      entity: cur.name,
      answers: [cur.code],
      supportingDocs: [docIds.currency(cur.code)],
    });
    // Multi-hop from a currency used by exactly one country: currency article → country → city article.
    const users = facts.countries.filter((c) => c.currencies.some((x) => x.code === cur.code));
    const only = users.length === 1 ? users[0]! : undefined;
    if (only && only.capitals.length === 1) {
      const capital = only.capitals[0]!;
      out.push({
        id: `capital_via_currency/${cur.code.toLowerCase()}`,
        splitKey: only.code,
        type: 'capital_via_currency',
        question: `What is the capital of the country whose currency is the ${cur.name}?`,
        entity: cur.name,
        answers: withFolded(capital),
        supportingDocs: [docIds.currency(cur.code), docIds.city(only, capital)],
      });
    }
  }
  for (const l of facts.languages) {
    if (!l.iso6391) continue;
    out.push({
      id: `language_code/${l.key}`,
      splitKey: `language:${l.key}`,
      type: 'language_code',
      question: `What is the ISO 639-1 code of the ${l.name} language?`,
      entity: l.name,
      answers: [l.iso6391],
      supportingDocs: [docIds.language(l)],
    });
  }
  return out;
}

export interface TaskCheck {
  kept: Task[];
  /** Why candidates were dropped, by id (for the build report and tests). */
  dropped: Record<string, string>;
}

/**
 * The generated tasks of the world corpus. Every candidate is checked against the documents:
 * its supporting documents exist, the first names the entity and the last the answer; and a
 * multi-hop question is dropped when any single document mentions both its entity and an answer
 * (it would not really need two hops).
 */
export function generateTasks(
  facts: WorldFacts,
  documents: readonly RetrievalDocument[],
  options: { testFraction: number },
): TaskCheck {
  const ids = new Set(documents.map((d) => d.id));
  const mentions = new MentionIndex(documents);
  const kept: Task[] = [];
  const dropped: Record<string, string> = {};
  for (const c of candidates(facts)) {
    const hops = c.supportingDocs.length;
    const missing = c.supportingDocs.find((id) => !ids.has(id));
    if (missing) {
      dropped[c.id] = `supporting document ${missing} is not in the corpus`;
      continue;
    }
    if (!c.answers.some((a) => mentions.mentions(c.supportingDocs[hops - 1]!, a))) {
      dropped[c.id] = `the last supporting document does not state the answer`;
      continue;
    }
    if (hops > 1) {
      if (!mentions.mentions(c.supportingDocs[0]!, c.entity)) {
        dropped[c.id] = `the first supporting document does not name ${c.entity}`;
        continue;
      }
      const joining = mentions.documentsJoining(c.entity, c.answers);
      if (joining.length > 0) {
        dropped[c.id] = `one document (${joining[0]}) mentions both the entity and the answer`;
        continue;
      }
    }
    const answer: SearchAnswer = { answers: c.answers, supportingDocs: c.supportingDocs };
    const meta: SearchTaskMeta = {
      type: c.type,
      hops,
      entity: c.entity,
      subject: c.splitKey,
      question: c.question,
    };
    kept.push({
      id: c.id,
      split: splitOf(c.splitKey, options.testFraction, 'search'),
      prompt: promptFor(c.question),
      answer,
      meta: { ...meta },
    });
  }
  return { kept, dropped };
}
