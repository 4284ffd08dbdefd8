/**
 * Swap (reference §3.12): /video/mask/selection detects masks on a keyframe of the source video
 * (synchronous, billable) and /video/swap/generate replaces one masked subject with an image.
 * Masks are deterministic per keyframe, so no state links the two calls.
 */
import { EDIT_QUALITIES } from '../catalog.ts';
import { ERR, fieldError } from '../envelope.ts';
import { Fields, type Body } from '../fields.ts';
import { editCost } from '../pricing.ts';
import { checkImage } from './common.ts';
import { readSourceVideo } from './sources.ts';
import { videoSpec, type Lookup, type SourceVideo, type VideoSpec } from './specs.ts';

const FRAMES_PER_SECOND = 24;
const MASK_NAMES = ['person', 'background', 'object'];

export interface MaskSelection {
  source: SourceVideo;
  keyframeId: number;
  masks: { mask_id: string; mask_name: string; mask_url: string }[];
  keyframeUrl: string;
}

function readKeyframe(f: Fields, source: SourceVideo, required: boolean): number {
  const keyframe = required ? f.int('keyframe_id', true) : (f.int('keyframe_id') ?? 1);
  const last = source.duration * FRAMES_PER_SECOND;
  if (keyframe < 1 || keyframe > last) throw fieldError(ERR.invalidParam, 'keyframe_id', `must be 1–${last}`);
  return keyframe;
}

export function masksFor(keyframe: number): MaskSelection['masks'] {
  return MASK_NAMES.map((name, i) => ({
    mask_id: `mask-${keyframe}-${i}`,
    mask_name: name,
    mask_url: `https://media.pixverse.ai/mask/k${keyframe}-${i}.png`,
  }));
}

/** POST /video/mask/selection. */
export function validateMaskSelection(body: Body, lookup: Lookup): MaskSelection {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  const keyframeId = readKeyframe(f, source, false);
  return {
    source,
    keyframeId,
    masks: masksFor(keyframeId),
    keyframeUrl: `https://media.pixverse.ai/keyframe/${source.videoId ?? 'upload'}-${keyframeId}.jpg`,
  };
}

/** POST /video/swap/generate: keyframe_id, mask_id (a string from mask selection), img_id, quality ≤720p. */
export function validateSwap(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  const keyframe = readKeyframe(f, source, true);
  const maskId = f.string('mask_id', true);
  if (!masksFor(keyframe).some((m) => m.mask_id === maskId)) {
    throw fieldError(ERR.invalidParam, 'mask_id', `${maskId} is not a mask of keyframe ${keyframe}`);
  }
  const imgId = f.id('img_id', true);
  checkImage(lookup, 'img_id', imgId);
  const quality = f.oneOf('quality', EDIT_QUALITIES, true);
  return videoSpec({
    mode: 'swap',
    model: source.model,
    quality,
    duration: source.duration,
    aspectRatio: source.aspectRatio,
    sourceVideoId: source.videoId,
    cost: editCost(quality, source.duration),
  });
}
