/**
 * The files behind the simulator's result URLs, served from its own address so a client can
 * download what it generated (PixVerse serves results from its media host, which the simulator
 * cannot stand in for). Small but well-formed: an MP4 (ftyp + a movie header carrying the video's
 * length + an empty mdat) and a PNG of the reported size class, both with their real signatures.
 */
import { crc32, deflateSync } from 'node:zlib';

/** Path prefix of result files; outside the Platform API's /openapi/v2 tree. */
export const MEDIA_PREFIX = '/media/';

export interface MediaFile {
  contentType: string;
  body: Buffer;
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + payload.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, payload]);
}

/** An MP4 whose movie header says `durationMs` long. */
export function mp4(durationMs: number): Buffer {
  const ftyp = box(
    'ftyp',
    Buffer.from('isom', 'latin1'),
    u32(512),
    Buffer.from('isomiso2avc1mp41', 'latin1'),
  );
  const mvhd = Buffer.alloc(100);
  // version/flags 0, creation and modification time 0, timescale 1000 (ms), duration
  mvhd.writeUInt32BE(1000, 12);
  mvhd.writeUInt32BE(Math.max(0, Math.round(durationMs)), 16);
  mvhd.writeUInt32BE(0x00010000, 20); // rate 1.0
  mvhd.writeUInt16BE(0x0100, 24); // volume 1.0
  // Unity matrix.
  mvhd.writeUInt32BE(0x00010000, 36);
  mvhd.writeUInt32BE(0x00010000, 52);
  mvhd.writeUInt32BE(0x40000000, 68);
  mvhd.writeUInt32BE(1, 96); // next track id
  return Buffer.concat([ftyp, box('moov', box('mvhd', mvhd)), box('mdat')]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function chunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([u32(data.length), typed, u32(crc32(typed))]);
}

/** A solid-colour RGB PNG, `width` × `height` (kept small: sizes above 64 px are scaled down). */
export function png(width: number, height: number, seed: number): Buffer {
  const scale = Math.max(1, Math.ceil(Math.max(width, height) / 64));
  const w = Math.max(1, Math.round(width / scale));
  const h = Math.max(1, Math.round(height / scale));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const row = Buffer.alloc(1 + w * 3);
  for (let x = 0; x < w; x++) row.set([seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Result file path of a job: video/<id>.mp4 or image/<id>.png (the id is the job's). */
export function mediaPath(kind: 'video' | 'image', id: string): string {
  return `${MEDIA_PREFIX}${kind}/sim-${id}.${kind === 'video' ? 'mp4' : 'png'}`;
}

export function parseMediaPath(path: string): { kind: 'video' | 'image'; id: string } | null {
  const match = /^\/media\/(video|image)\/sim-(\d{1,20})\.(mp4|png)$/.exec(path);
  if (!match) return null;
  const kind = match[1] as 'video' | 'image';
  if ((kind === 'video') !== (match[3] === 'mp4')) return null;
  return { kind, id: match[2]! };
}
