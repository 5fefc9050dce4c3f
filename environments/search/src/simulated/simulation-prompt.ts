/**
 * ZeroSearch's prompt for a simulated search engine (Sun et al. 2025, Table 2): one word,
 * useful or noisy, decides what the documents hold; the question and its answer are in the
 * prompt so that the simulator can write useful documents about facts it does not know.
 */
export function simulationPrompt(request: {
  query: string;
  question: string;
  answer: string;
  useful: boolean;
  documents: number;
  wordsPerDocument: number;
}): string {
  const kind = request.useful ? 'useful' : 'noisy';
  return [
    'You are the Google search engine.',
    `Given a query, you need to generate ${numberWord(request.documents)} ${kind} documents for the query.`,
    '',
    `The user is trying to answer the question: "${request.question}" whose answer is ${request.answer}.`,
    `Each document should contain about ${request.wordsPerDocument} words, and these documents should contain ${kind} information.`,
    '',
    `Query: ${request.query}`,
    `${request.useful ? 'Useful' : 'Noisy'} Output:`,
  ].join('\n');
}

const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
const numberWord = (n: number) => WORDS[n] ?? String(n);

/**
 * The documents of a simulator's output: one per `Doc N:` line when it numbers them (as
 * ZeroSearch's simulators write), else one per non-empty line; at most `documents`, each cut to
 * `maxChars`.
 */
export function parseSimulatedDocuments(output: string, documents: number, maxChars: number): string[] {
  const lines = output
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const numbered = /^(?:\*\*)?doc(?:ument)?\s*\d+\s*[:.)-]\s*(?:\*\*)?\s*/i;
  const docs: string[] = [];
  if (lines.some((l) => numbered.test(l))) {
    // A numbered document may run over several lines: they belong to the last number seen.
    for (const line of lines) {
      if (numbered.test(line)) docs.push(line.replace(numbered, ''));
      else if (docs.length > 0) docs[docs.length - 1] = `${docs[docs.length - 1]} ${line}`;
    }
  } else docs.push(...lines);
  return docs
    .map((d) => d.trim())
    .filter((d) => d.length > 0)
    .slice(0, documents)
    .map((d) => (d.length > maxChars ? `${d.slice(0, maxChars)}…` : d));
}
