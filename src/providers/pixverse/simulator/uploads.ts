/**
 * POST /image/upload and /media/upload bodies (reference §3.1, §3.2). Multipart is parsed with the
 * Fetch API's FormData parser built into Node 20, so no dependency is needed. Nothing is stored:
 * only the format and size are checked, and the caller registers a fresh id.
 */
import { randomUUID } from 'node:crypto';
import { ERR, SimError, fieldError } from './envelope.ts';

export const IMAGE_MAX_BYTES = 20 * 1024 * 1024;
export const MEDIA_MAX_BYTES = 50 * 1024 * 1024;

const IMAGE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/jpg': 'jpg',
  'image/webp': 'webp',
};
const MEDIA_TYPES: Record<string, { type: 'video' | 'audio'; ext: string }> = {
  'video/mp4': { type: 'video', ext: 'mp4' },
  'video/quicktime': { type: 'video', ext: 'mov' },
  'video/webm': { type: 'video', ext: 'webm' },
  'audio/mpeg': { type: 'audio', ext: 'mp3' },
  'audio/mp3': { type: 'audio', ext: 'mp3' },
  'audio/wav': { type: 'audio', ext: 'wav' },
  'audio/x-wav': { type: 'audio', ext: 'wav' },
  'audio/wave': { type: 'audio', ext: 'wav' },
  'audio/mp4': { type: 'audio', ext: 'm4a' },
  'audio/x-m4a': { type: 'audio', ext: 'm4a' },
  'audio/aac': { type: 'audio', ext: 'aac' },
};
const EXT_TO_MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
};

export interface ImageUpload {
  imgUrl: string;
}
export interface MediaUpload {
  mediaType: 'video' | 'audio';
  url: string;
}

async function readForm(body: Buffer, contentType: string | undefined): Promise<FormData> {
  try {
    return await new Response(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), {
      headers: { 'content-type': contentType ?? '' },
    }).formData();
  } catch {
    throw new SimError(ERR.badBinding, 'invalid binding request: expected multipart/form-data');
  }
}

type FilePart = Blob & { name?: string };

function extOf(name: string): string {
  const clean = name.split(/[?#]/)[0] ?? '';
  const dot = clean.lastIndexOf('.');
  return dot >= 0 ? clean.slice(dot + 1).toLowerCase() : '';
}

/** The declared MIME type, falling back to the file name's extension (curl often sends octet-stream). */
function mimeOf(part: FilePart): string {
  const declared = part.type.split(';')[0]!.trim().toLowerCase();
  if (declared && declared !== 'application/octet-stream') return declared;
  return EXT_TO_MIME[extOf(part.name ?? '')] ?? declared;
}

/** Magic bytes: a file that claims to be an image but is not one fails like the real service (500031). */
async function sniffImage(part: FilePart): Promise<string | null> {
  const head = Buffer.from(await part.slice(0, 12).arrayBuffer());
  if (head.length >= 8 && head.readUInt32BE(0) === 0x89504e47) return 'png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpg';
  if (
    head.length >= 12 &&
    head.toString('latin1', 0, 4) === 'RIFF' &&
    head.toString('latin1', 8, 12) === 'WEBP'
  )
    return 'webp';
  return null;
}

function checkUrl(field: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fieldError(ERR.invalidParam, field, 'must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw fieldError(ERR.invalidParam, field, 'must be an http(s) URL');
  return url;
}

export async function parseImageUpload(body: Buffer, contentType: string | undefined): Promise<ImageUpload> {
  const form = await readForm(body, contentType);
  const file = form.get('image');
  if (file !== null && typeof file !== 'string') {
    const part = file as FilePart;
    if (part.size === 0) throw new SimError(ERR.imageUnreadable);
    if (part.size >= IMAGE_MAX_BYTES) throw new SimError(ERR.imageTooLarge, 'image too large (max 20MB)');
    const claimed = IMAGE_TYPES[mimeOf(part)];
    if (!claimed) throw new SimError(ERR.imageFormat, 'invalid image format (png, jpeg, webp)');
    const actual = await sniffImage(part);
    if (!actual) throw new SimError(ERR.imageUnreadable);
    return { imgUrl: `https://media.pixverse.ai/upload/${randomUUID()}.${actual}` };
  }
  const link = form.get('image_url');
  if (typeof link === 'string' && link.trim() !== '') {
    // The simulator never fetches: it trusts the URL's extension, defaulting to png.
    const ext = extOf(checkUrl('image_url', link.trim()).pathname);
    const format = IMAGE_TYPES[EXT_TO_MIME[ext] ?? ''];
    if (ext && !format) throw new SimError(ERR.imageFormat, 'invalid image format (png, jpeg, webp)');
    return { imgUrl: `https://media.pixverse.ai/upload/${randomUUID()}.${format ?? 'png'}` };
  }
  throw fieldError(ERR.emptyParam, 'image');
}

export async function parseMediaUpload(body: Buffer, contentType: string | undefined): Promise<MediaUpload> {
  const form = await readForm(body, contentType);
  const file = form.get('file');
  let kind: { type: 'video' | 'audio'; ext: string } | undefined;
  if (file !== null && typeof file !== 'string') {
    const part = file as FilePart;
    if (part.size === 0) throw fieldError(ERR.invalidParam, 'file', 'is empty');
    if (part.size > MEDIA_MAX_BYTES) throw fieldError(ERR.invalidParam, 'file', 'is larger than 50MB');
    kind = MEDIA_TYPES[mimeOf(part)];
    if (!kind)
      throw fieldError(ERR.invalidParam, 'file', 'must be mp4/mov/webm video or mp3/wav/m4a/aac audio');
  } else {
    const link = form.get('file_url');
    if (typeof link !== 'string' || link.trim() === '') throw fieldError(ERR.emptyParam, 'file');
    kind = MEDIA_TYPES[EXT_TO_MIME[extOf(checkUrl('file_url', link.trim()).pathname)] ?? ''];
    if (!kind)
      throw fieldError(ERR.invalidParam, 'file_url', 'must point to mp4/mov/webm or mp3/wav/m4a/aac');
  }
  return { mediaType: kind.type, url: `https://media.pixverse.ai/upload/${randomUUID()}.${kind.ext}` };
}
