/** Saves a result (video, image, audio) from its URL into a directory. */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PixgateError, PixgateUnreachableError } from './errors.ts';

export interface DownloadOptions {
  /** File name inside `dir` (default: the last segment of the URL's path). */
  name?: string;
  /** Whole-download timeout (default 10 min: results can be large videos). */
  timeoutMs?: number;
}

/** Returns the saved file's path. A failed download leaves no partial file behind. */
export async function download(url: string, dir: string, options: DownloadOptions = {}): Promise<string> {
  const name = safeName(options.name ?? basename(new URL(url).pathname));
  await mkdir(dir, { recursive: true });
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'follow',
      signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
    });
  } catch (err) {
    throw new PixgateUnreachableError(new URL(url).origin, err);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new PixgateError(
      response.status,
      `download of ${url} answered HTTP ${response.status}`,
      null,
      null,
    );
  }
  const target = join(dir, name);
  // Written aside and renamed, so a reader never sees a half-written result under the real name.
  const partial = `${target}.part`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      createWriteStream(partial),
    );
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return target;
}

/** A URL segment made safe as a file name (no separators, no dot-files, never empty). */
function safeName(raw: string): string {
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    /* keep the raw segment */
  }
  name = name.replace(/[/\\\0]/g, '_').replace(/^\.+/, '');
  return name === '' ? 'result' : name.slice(0, 200);
}
