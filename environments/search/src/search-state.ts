import type { BrowserSession } from '@toolgym/tools';
import type { SearchData } from './runtime.ts';

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

/** Per-episode state: the shared data, this episode's browser context (made on first open), the open page. */
export interface SearchState {
  data: SearchData;
  browser?: Promise<BrowserSession>;
  page?: OpenPage;
}
