/**
 * AgentClinic's patient texts are briefings for an actor: third person in MedQA ("The patient
 * reports…", "She has…", "Smokes 10 a day.") and second person in NEJM ("You are a 55-year-old
 * woman who…", "For the patient actor: - **Symptoms**: - Blurry vision"). The deterministic patient
 * says its case's words verbatim, so they are rewritten into the patient's own: "I have…", "My…".
 * When the patient is a young child a parent speaks: "My son has…", and the parent is "I".
 *
 * A rewrite by rules, not a parser: it covers the sentence shapes of the published files (subjects,
 * pronouns, the verb after "I", subjectless sentences, labelled bullet lists, actor directions).
 */

export interface Speaker {
  /** A young child: a parent answers for them. */
  child: boolean;
  sex: 'male' | 'female';
  /** The briefing speaks to the parent ("You are the mother of…"), not to the child. */
  parentAddressed?: boolean;
}

/** Adverbs that may stand between the subject and its verb ("I also reports"). */
const ADVERBS = [
  'also',
  'recently',
  'now',
  'still',
  'often',
  'sometimes',
  'occasionally',
  'further',
  'additionally',
  'previously',
  'never',
  'always',
  'usually',
  'currently',
  'initially',
  'first',
  'reportedly',
  'frequently',
  'only',
  'then',
  'not',
];

/** Verbs a subjectless history sentence starts with ("Smokes 10 a day", "Denies fever", "Was born at term"). */
const LEADING_VERB =
  /^(complains|reports|denies|works|worked|smokes|drinks|has|had|is|was|lives|lived|takes|took|uses|used|describes|mentions|notes|noticed|experiences|experienced|attends|enjoys|admits|endorses|recalls|underwent|started|stopped|quit|drank|smoked|presents|presented|feels|felt|developed|states|says|remembers|became|walks|eats|plays|exercises|runs|follows|consumes|travels|traveled|travelled|returned|visited|received|completed|describes|appears)\b/i;

/** Verbs that may follow "and"/"but" with the same subject ("I have a fever and has lost weight"). */
const CONJOINED_VERB =
  /\b(and|but)\s+(has|is|reports|denies|notes|mentions|describes|experiences|feels|takes|says|complains|admits|states|smokes|drinks|works|lives|uses)\b/g;

/** "reports" → "report", "denies" → "deny", "has" → "have", "is" → "am". */
function firstPersonVerb(verb: string, plural: boolean): string {
  const lower = verb.toLowerCase();
  const irregular: Record<string, string> = plural
    ? { has: 'have', is: 'are', was: 'were', does: 'do', goes: 'go' }
    : { has: 'have', is: 'am', does: 'do', goes: 'go' };
  return (
    irregular[lower] ??
    (/[^aeiou]ies$/.test(lower)
      ? `${lower.slice(0, -3)}y`
      : /(ches|shes|sses|xes|zes)$/.test(lower)
        ? lower.slice(0, -2)
        : /[^su]s$/.test(lower) && lower.length > 3
          ? lower.slice(0, -1)
          : lower)
  );
}

/** After "I"/"We" (and adverbs) the verb agrees: "I has" → "I have", "We also reports" → "We also report". */
function agree(text: string): string {
  const pattern = new RegExp(`\\b(I|We)((?:\\s+(?:${ADVERBS.join('|')}))*)\\s+([a-z]+)\\b`, 'g');
  return text.replace(
    pattern,
    (_all, subject: string, adverbs: string, verb: string) =>
      `${subject}${adverbs} ${firstPersonVerb(verb, subject === 'We')}`,
  );
}

/** "I report that my son has…" → "My son has…": a reporting frame adds nothing in one's own words. */
function dropReportingFrame(text: string): string {
  return text.replace(
    /\b(?:I|We)(?:\s+also)?\s+(?:report|state|mention|note|say|explain|describe|notice|noticed)\s+that\s+/g,
    '',
  );
}

const capitalise = (s: string) => (s.length > 0 ? `${s[0]?.toUpperCase()}${s.slice(1)}` : s);
const lowerFirst = (s: string) => (/^[A-Z][a-z]/.test(s) ? `${s[0]?.toLowerCase()}${s.slice(1)}` : s);

/** Sentences that direct the actor rather than say what the patient would ("Do not mention…"). */
const DIRECTION =
  /\b(patient actor|the actor|portray|role[- ]play|play(ing)? the role|you should|should not|do not mention|don't mention|do not reveal|not to mention|to exhibit|act as if|remember,|not aware of (your|the|my) (diagnosis|condition)|medical terms?)\b/i;
/** A parenthesis that speaks to the actor ("(though you, as the patient, wouldn't know the term)"). */
const DIRECTION_ASIDE = /\s*\([^)]*\b(as the patient|you wouldn['’]t|the actor)\b[^)]*\)/gi;
/** Opening frames of an actor briefing ("For your role as a patient, ", "For the patient actor: "). */
const BRIEFING_OPENING =
  /^(?:for (?:your|the) role as (?:a|the) patient(?: actor)?,?|for the patient actor(?: portraying [^:,]+)?\s*[:,]?|as (?:a|the) patient actor,?|as the patient,?)\s*/i;
/** Labels of a briefing's bullet lists: what they hold decides how an item is said. */
const AGE_LABEL = /^age\b/i;
const HAVE_LABEL =
  /symptom|complaint|discomfort|sensation|skin (changes|issues)|physical (limitations|observations)|breathing/i;
const DIRECTION_LABEL = /not to mention|behaviou?r|instructions?|note to|environmental note|what to say/i;
/** A gerund item under a symptom label is said with "I am" ("Experiencing vision problems"). */
const GERUND =
  /^(experiencing|having|feeling|noticing|suffering|developing|losing|getting|seeing|hearing|coughing|vomiting)\b/;

/** "you" before a verb is the subject ("they found you have more eosinophils" → "I have"). */
const SUBJECT_YOU =
  /\byou(?=\s+(?:have|had|are|were|will|would|can|could|should|may|might|need|feel|felt|notice|noticed|experience|experienced|developed|began|started|also|do|did|don't|didn't|haven't|hadn't|got|get|went|go|live|work|take|took|use|used|recall|recently|still)\b)/gi;

function secondToFirst(text: string): string {
  return text
    .replace(/\byou are\b/gi, 'I am')
    .replace(/\byou were\b/gi, 'I was')
    .replace(/\byou're\b/gi, "I'm")
    .replace(/\byou've\b/gi, "I've")
    .replace(/\byou'll\b/gi, "I'll")
    .replace(/\byou'd\b/gi, "I'd")
    .replace(/\byourself\b/gi, 'myself')
    .replace(/\byours\b/gi, 'mine')
    .replace(/\byour\b/g, 'my')
    .replace(/\bYour\b/g, 'My')
    .replace(
      /(^|[.!?;:,]\s+|\b(?:and|but|that|because|when|which|who|since|if|as|so|although|while|though|where)\s+)you\b/gi,
      '$1I',
    )
    .replace(SUBJECT_YOU, 'I')
    .replace(/\byou\b/gi, 'me');
}

/** A parent's words for an actor briefing that addresses the child ("You have blisters on your torso"). */
function secondToParent(text: string, speaker: Speaker): string {
  const child = childName('child', speaker);
  const [they, their] = speaker.sex === 'female' ? ['she', 'her'] : ['he', 'his'];
  return text
    .replace(/\byour mother['’]s\b/gi, 'my')
    .replace(/\byour mother\b/gi, 'I')
    .replace(/\byou are\b/gi, `${child} is`)
    .replace(/\byou were\b/gi, `${child} was`)
    .replace(/\byou have\b/gi, `${child} has`)
    .replace(/\byou've\b/gi, `${child} has`)
    .replace(/\byour\b/gi, their)
    .replace(/\byou\b/gi, they);
}

function thirdToFirstAdult(text: string): string {
  return text
    .replace(/\b(?:the|this) patient['’]s\b/gi, 'my')
    .replace(/\bpatient['’]s\b/gi, 'my')
    .replace(/\b(?:the|this) (?:patient|man|woman|gentleman|lady)\b/gi, 'I')
    .replace(/(^|[.!?;]\s+)patient\b/gi, '$1I')
    .replace(/\b(?:he|she)\b/gi, 'I')
    .replace(/\b(?:himself|herself)\b/gi, 'myself')
    .replace(/\bhis\b/gi, 'my')
    .replace(/\bhim\b/gi, 'me')
    .replace(
      /\bher\b(?=\s*(?:[.,;:!?)]|$|\b(?:to|for|with|about|from|at|in|on|and|or|that|when|because|up|down|off|out)\b))/gi,
      'me',
    )
    .replace(/\bher\b/gi, 'my');
}

function childName(noun: string, speaker: Speaker): string {
  if (/infant|baby|newborn|neonate/i.test(noun)) return 'my baby';
  return speaker.sex === 'female' ? 'my daughter' : 'my son';
}

function thirdToFirstParent(text: string, speaker: Speaker): string {
  const determiner =
    "(?:the |his |her |the patient['’]s |the child['’]s |the infant['’]s |the baby['’]s |the newborn['’]s )";
  const parent = `${determiner}?`;
  return text
    .replace(new RegExp(`\\bby ${parent}(?:mother|father|mom|dad|parent)\\b`, 'gi'), 'by me')
    .replace(new RegExp(`\\bby ${determiner}(?:parents|family)\\b`, 'gi'), 'by us')
    .replace(new RegExp(`\\b${determiner}(?:parents|family)\\b`, 'gi'), 'We')
    .replace(
      new RegExp(`(?<!\\bam (?:the |his |her )?)\\b${parent}(?:mother|father|mom|dad|parent)\\b`, 'gi'),
      'I',
    )
    .replace(
      /\b(?:the|this) (patient|child|infant|baby|newborn|neonate|toddler|boy|girl)['’]s\b/gi,
      (_m, noun: string) => `${childName(noun, speaker)}'s`,
    )
    .replace(
      /\b(?:the|this) (patient|child|infant|baby|newborn|neonate|toddler|boy|girl|son|daughter)\b/gi,
      (_m, noun: string) => childName(noun, speaker),
    );
}

/** One sentence in the speaker's own words. */
function sentenceInOwnWords(sentence: string, speaker: Speaker): string {
  let s = sentence;
  if (/\byou\b|\byour\b/i.test(s))
    s = speaker.child && !speaker.parentAddressed ? secondToParent(s, speaker) : secondToFirst(s);
  if (speaker.child) s = s.replace(/^They\b/, 'We');
  s = speaker.child ? thirdToFirstParent(s, speaker) : thirdToFirstAdult(s);
  if (LEADING_VERB.test(s))
    s = speaker.child ? `${childName('child', speaker)} ${lowerFirst(s)}` : `I ${lowerFirst(s)}`;
  if (!speaker.child && /^I\b/.test(s))
    s = s.replace(
      CONJOINED_VERB,
      (_m, conj: string, verb: string) => `${conj} ${firstPersonVerb(verb, false)}`,
    );
  s = dropReportingFrame(agree(s));
  return capitalise(s.trim());
}

/** Lines of a briefing: markdown bold gone, each bullet its own line. */
function briefingLines(text: string): string[] {
  return (
    text
      .replace(/\*\*/g, '')
      .replace(DIRECTION_ASIDE, '')
      .replace(BRIEFING_OPENING, '')
      // A bullet glued to the next sentence ("- Fever You are not aware…") ends before the sentence.
      .replace(/(?<=[a-z])\s+(?=(?:You|Your|I) [a-z])/g, '\n')
      .replace(/(^|\s)[-•]\s+/g, '\n')
      .replace(/(^|\s)\d+\.\s+(?=[A-Z])/g, '\n')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.length > 0)
  );
}

type LabelKind = 'age' | 'have' | 'mine' | 'plain' | 'skip';

/** How the items under a label are said: a short known label shapes them, a long heading does not. */
function labelKind(name: string): LabelKind {
  if (DIRECTION_LABEL.test(name)) return 'skip';
  if (name.split(/\s+/).length > 4 || /[(),]/.test(name)) return 'plain';
  if (AGE_LABEL.test(name)) return 'age';
  return HAVE_LABEL.test(name) ? 'have' : 'mine';
}

/** An item without a subject under an age or symptom label: "I am a 34-year-old man", "I have blurry vision". */
function labelledItem(kind: 'age' | 'have', sentence: string, speaker: Speaker): string {
  const item = lowerFirst(sentence);
  const child = capitalise(childName('child', speaker));
  if (kind === 'age') {
    if (/^\d+ (years?|months?|weeks?|days?) old$/.test(item))
      return `${speaker.child ? `${child} is` : 'I am'} ${item}`;
    const article = /^(a|an)\b/i.test(item) ? '' : /^[aeiou8]|^11|^18/i.test(item) ? 'an ' : 'a ';
    return `${speaker.child ? `${child} is` : 'I am'} ${article}${item}`;
  }
  const verb = speaker.child ? (GERUND.test(item) ? 'is' : 'has') : GERUND.test(item) ? 'am' : 'have';
  return `${speaker.child ? child : 'I'} ${verb} ${item}`;
}

const STARTS_WITH_SUBJECT =
  /^(I|I'm|I've|My|We|You|Your|He|She|His|Her|The|This|They|These|Those|There|It|Patient)\b/;

/**
 * The patient's (or, for a young child, the parent's) own words for a case text. Actor directions
 * are dropped; labelled lists ("Symptoms: - Blurry vision") become sentences ("I have blurry vision.").
 */
export function firstPerson(text: string, who: Speaker): string {
  const speaker = {
    ...who,
    parentAddressed: who.child && /\byou are (the|his|her) (mother|father|parent)\b/i.test(text),
  };
  const out: string[] = [];
  let label: { name: string; kind: LabelKind } | undefined;
  for (const line of briefingLines(text)) {
    const labelled = /^([A-Z][^:.!?]{1,80}?):\s*(.*)$/.exec(line);
    let content = line;
    if (labelled && !/\d$/.test(labelled[1] as string)) {
      const name = (labelled[1] as string).trim();
      label = { name, kind: labelKind(name) };
      content = (labelled[2] as string).trim();
      if (content.length === 0) continue;
    }
    if (label?.kind === 'skip') continue;
    for (const raw of content.split(/(?<=[.!?])\s+/)) {
      const sentence = raw.replace(/[.;,]+$/, '').trim();
      if (sentence.length === 0 || DIRECTION.test(sentence)) continue;
      const bare = !STARTS_WITH_SUBJECT.test(sentence) && !LEADING_VERB.test(sentence);
      const said =
        label?.kind === 'mine'
          ? `${speaker.child ? capitalise(`${childName('child', speaker)}'s`) : 'My'} ${label.name.toLowerCase()}: ${lowerFirst(bare ? sentence : sentenceInOwnWords(sentence, speaker))}`
          : (label?.kind === 'age' || label?.kind === 'have') && bare
            ? labelledItem(label.kind, sentence, speaker)
            : sentenceInOwnWords(sentence, speaker);
      out.push(`${said}.`);
    }
  }
  return out.join(' ');
}
