import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DocumentStore, RetrievalDocument } from '@toolgym/tools';
import { idFromDocumentPath } from './corpus-url.ts';

/** The local web server the browser reads the corpus from. */
export interface CorpusServer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Where the browser fetches document `id`. */
  urlOf(id: string): string;
  close(): Promise<void>;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** A document as a web page: site chrome around an <article> the reader extracts. */
export function documentHtml(doc: RetrievalDocument): string {
  const paragraphs = doc.text
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.title)}</title>
<style>body{font-family:sans-serif;max-width:50em;margin:auto}nav,footer{color:#666;font-size:small}</style></head>
<body><nav><a href="/">ToolGym corpus</a> · document ${escapeHtml(doc.id)}</nav>
<article><h1>${escapeHtml(doc.title)}</h1>
${paragraphs}
</article>
<footer>Generated for ToolGym from open data.</footer></body></html>`;
}

const NOT_FOUND = `<!doctype html><html><head><title>Not found</title></head><body><article><h1>Not found</h1><p>No such document.</p></article></body></html>`;

/**
 * Serves `/doc/<id>` as HTML on 127.0.0.1 (a free port). The socket is unref'd: an idle corpus
 * server never keeps a process alive.
 */
export async function startCorpusServer(documents: DocumentStore): Promise<CorpusServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
    if (url.pathname === '/') {
      return void res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(
          `<!doctype html><html><head><title>ToolGym corpus</title></head><body><article><h1>ToolGym corpus</h1><p>${documents.size} documents.</p></article></body></html>`,
        );
    }
    const id = idFromDocumentPath(url.pathname);
    const doc = id === undefined ? undefined : documents.get(id);
    if (!doc) return void res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end(NOT_FOUND);
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(documentHtml(doc));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    urlOf: (id) => `${origin}/doc/${id.split('/').map(encodeURIComponent).join('/')}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
