import type { ChatTextModel, Rng } from '@toolgym/protocol';
import type { BrowserSession } from '@toolgym/tools';
import type { SearchData } from './runtime.ts';
import type { Proposal, ProposalBoard } from './self-play/proposal-board.ts';
import type { SeatMeta } from './self-play/self-play-tasks.ts';
import type { Verdict } from './self-play/verify-question.ts';
import type { SimulatedSearch, SimulatedSearchEngine } from './simulated/simulated-search.ts';

/** The page an episode has open: `open` pages through it, `find` searches it. */
export interface OpenPage {
  /** The corpus id, when the page is a corpus document. */
  id?: string;
  /** The URL shown to the model (canonical for corpus documents). */
  url: string;
  title: string;
  text: string;
  pages: string[];
  cutOff?: string;
}

/** A seat of a Search Self-play match, and what it has done. */
export interface SeatState extends SeatMeta {
  board: ProposalBoard;
  /** The shared match it joined; absent when it plays alone. */
  sharedMatch?: string;
  /** The proposer: its question and the verdict on it. A solver: the question it was given. */
  proposal?: Proposal;
  verdict?: Verdict;
  /** The model of the RAG check (`selfPlay.verify: rag`). */
  model?: ChatTextModel;
}

/**
 * Per-episode state: the shared data, this episode's browser context (made on first open), the
 * open page, the documents its searches returned (in the order found), and, with the simulated
 * backend or in self-play, what those need.
 */
export interface SearchState {
  data: SearchData;
  browser?: Promise<BrowserSession>;
  page?: OpenPage;
  found: string[];
  /** The simulated backend's engine, its draws, and every search it answered. */
  simulated?: { engine: SimulatedSearchEngine; rng: Rng; searches: SimulatedSearch[] };
  seat?: SeatState;
}
