/**
 * The part of a chat policy that an environment or a grader calls: message-mode generation
 * returning text (a rubric judge, a simulated patient, a simulated search engine, a RAG check).
 * Any policy of the agents package (`Policy.generate`) satisfies it structurally, so nothing
 * below the agents package depends on it.
 */
export interface ChatTextModel {
  generate(request: {
    messages: Array<{ role: 'system' | 'user' | 'assistant' | 'tool'; content: string }>;
    tools: [];
    sampling: { maxTokens: number; temperature?: number };
    signal?: AbortSignal;
  }): Promise<{ text: string }>;
}
