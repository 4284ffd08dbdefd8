/** Small node:http helpers: bounded body reading and replies. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ReadBody {
  body: Buffer;
  /** The body exceeded the limit; it was drained (so the reply still reaches the client) but not kept. */
  overflow: boolean;
}

export function readBody(req: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        overflow = true;
        chunks.length = 0;
      } else if (!overflow) chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: overflow ? Buffer.alloc(0) : Buffer.concat(chunks), overflow }));
    req.on('error', reject);
    // A client that disconnects mid-body may produce neither 'end' nor 'error'; settle anyway
    // (a promise settles once, so the 'close' that follows a normal 'end' is harmless).
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

export function sendReply(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string | Buffer,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
  });
  // HEAD: the headers of a GET, no body.
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** First value of a header (duplicates arrive comma-joined or as arrays depending on the name). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}
