/**
 * The `simulated` search backend (ZeroSearch, Sun et al. 2025): a model writes the documents for a
 * query, useful or noisy, instead of an index returning them. Which one is the environment's draw,
 * with the curriculum's noise probability at the training run's progress.
 */
import { ConfigError } from '@toolgym/env-kit';
import type { ChatTextModel } from '@toolgym/protocol';
import type { SearchConfig } from '../config.ts';
import { noiseProbability } from './noise-curriculum.ts';
import { parseSimulatedDocuments, simulationPrompt } from './simulation-prompt.ts';

export type SimulatedBackend = Extract<SearchConfig['backend'], { kind: 'simulated' }>;

/** One simulated search, as the episode records it. */
export interface SimulatedSearch {
  query: string;
  useful: boolean;
  documents: string[];
}

/** What an episode's simulated searches share: the model, the settings and this episode's noise probability. */
export class SimulatedSearchEngine {
  /** The probability that a search of this episode returns noisy documents. */
  readonly noise: number;

  constructor(
    private readonly model: ChatTextModel,
    private readonly settings: SimulatedBackend,
    /** How far the training run is (0–1); outside training, its start. */
    progress: number | undefined,
  ) {
    this.noise = noiseProbability(progress ?? 0, {
      start: settings.noiseStart,
      end: settings.noiseEnd,
      base: settings.noiseBase,
    });
  }

  /** The model must be there: a simulated backend without one is a configuration error. */
  static of(settings: SimulatedBackend, model: ChatTextModel | undefined, progress: number | undefined): SimulatedSearchEngine {
    if (!model)
      throw new ConfigError(
        'search backend "simulated" needs a model to write the documents, and this environment was given none',
        'in training set environment.model: policy; in code call environment.useModel(policy) before the first episode',
      );
    return new SimulatedSearchEngine(model, settings, progress);
  }

  /** The documents for `query` (useful when `draw` ≥ the noise probability), for a task whose question and answer the prompt names. */
  async search(
    request: { query: string; question: string; answer: string; draw: number; k: number },
    signal?: AbortSignal,
  ): Promise<SimulatedSearch> {
    const useful = request.draw >= this.noise;
    const documents = Math.min(request.k, this.settings.documents);
    const { text } = await this.model.generate({
      messages: [
        {
          role: 'user',
          content: simulationPrompt({
            query: request.query,
            question: request.question,
            answer: request.answer,
            useful,
            documents,
            wordsPerDocument: this.settings.wordsPerDocument,
          }),
        },
      ],
      tools: [],
      sampling: { maxTokens: this.settings.maxTokens, temperature: this.settings.temperature },
      ...(signal ? { signal } : {}),
    });
    // A document of about n words: n × 12 characters is generous.
    return {
      query: request.query,
      useful,
      documents: parseSimulatedDocuments(text, documents, this.settings.wordsPerDocument * 12),
    };
  }
}
