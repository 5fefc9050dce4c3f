/**
 * Corpus documents have stable canonical URLs on a reserved `.test` host (RFC 2606), so tool
 * outputs and trajectories are identical whichever port the local corpus server got. The
 * browser maps them to the server at open time.
 */
export const CORPUS_ORIGIN = 'http://corpus.toolgym.test';

export function documentPath(id: string): string {
  return `/doc/${id.split('/').map(encodeURIComponent).join('/')}`;
}

export function canonicalUrl(id: string): string {
  return `${CORPUS_ORIGIN}${documentPath(id)}`;
}

/** The document id a corpus URL (canonical or served) points at, if it is one. */
export function idFromDocumentPath(pathname: string): string | undefined {
  if (!pathname.startsWith('/doc/')) return undefined;
  try {
    return pathname.slice('/doc/'.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}
