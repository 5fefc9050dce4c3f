/**
 * "Master keys" (Zhao et al., "One Token to Fool LLM-as-a-Judge", 2025): responses that say
 * nothing, yet make LLM judges answer "correct" — an empty reply, a lone ":" or ".", or a
 * reasoning opener such as "Thought process:" or "Let's solve this problem step by step." with
 * nothing after it, in English and other languages. A policy trained against such a judge learns
 * to emit them, so they are caught by rule before any judge is asked.
 */

/** Openers that announce an answer without giving one, normalised as `words` does (lower case, no punctuation). */
const OPENERS = [
  // English
  'thought process',
  'thinking process',
  'reasoning',
  'reasoning process',
  'lets solve this problem step by step',
  'lets solve this step by step',
  'lets think step by step',
  'let us solve this problem step by step',
  'let us think step by step',
  'step by step',
  'solution',
  'answer',
  'final answer',
  'the answer is',
  'explanation',
  'step 1',
  // Chinese, Japanese, Korean
  '解',
  '解答',
  '解题过程',
  '思考过程',
  '思路',
  '答案',
  '让我们一步一步地解决这个问题',
  'かいせつ',
  '解説',
  '回答',
  '答え',
  '풀이',
  '해설',
  '정답',
  // Spanish, Portuguese, French, German, Italian, Russian
  'respuesta',
  'solución',
  'proceso de pensamiento',
  'resolvamos este problema paso a paso',
  'resposta',
  'solução',
  'processo de pensamento',
  'réponse',
  'processus de réflexion',
  'résolvons ce problème étape par étape',
  'lösung',
  'antwort',
  'denkprozess',
  'lass uns dieses problem schritt für schritt lösen',
  'soluzione',
  'risposta',
  'решение',
  'ответ',
  'ход мыслей',
  'давайте решим эту задачу шаг за шагом',
].map((o) => words(o).join(' '));

/** Lower case, without punctuation, symbols or apostrophes, split on whitespace (CJK characters stay whole). */
function words(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** Whether `response` is only master keys: nothing but punctuation, symbols and reasoning openers. */
export function isMasterKey(response: string): boolean {
  let rest = words(response).join(' ');
  for (let stripped = true; stripped && rest !== ''; ) {
    stripped = false;
    for (const opener of OPENERS) {
      if (rest === opener || rest.startsWith(`${opener} `)) {
        rest = rest.slice(opener.length).trimStart();
        stripped = true;
      }
    }
  }
  return rest === '';
}
