/**
 * What a validated create turns into: the job spec the engine runs. Validators compute the price
 * (pricing.ts) and the output's shape (quality, aspect, length) so the engine and the result
 * documents never need to know which endpoint a job came from.
 */

/** Platform endpoint a video job was created through (`/video/<mode>/generate`). */
export type VideoMode =
  | 'text'
  | 'img'
  | 'transition'
  | 'multi_transition'
  | 'fusion'
  | 'extend'
  | 'lip_sync'
  | 'sound_effect'
  | 'restyle'
  | 'swap'
  | 'mimic'
  | 'modify'
  | 'upscale';

/** Modes that edit an existing video: they take 0.8–1.5× the time of the equivalent generation. */
export const EDITING_MODES: ReadonlySet<VideoMode> = new Set<VideoMode>([
  'extend',
  'lip_sync',
  'sound_effect',
  'restyle',
  'swap',
  'mimic',
  'modify',
  'upscale',
]);

export interface VideoSpec {
  kind: 'video';
  mode: VideoMode;
  prompt: string;
  negativePrompt: string;
  style: string;
  model: string;
  /** Output quality, aspect ratio and length in seconds. */
  quality: string;
  duration: number;
  aspectRatio: string;
  motionMode: 'normal' | 'fast';
  seed: number | null;
  /** Native audio (generate_audio_switch) or an audio track added by the operation. */
  audio: boolean;
  soundEffect: boolean;
  multiClip: boolean;
  templateId: string | null;
  /** The video this job edits (source_video_id), if any. */
  sourceVideoId: string | null;
  /** Registered webhook told when the job ends (text/img generations only, see webhooks.ts). */
  webhookId: string | null;
  cost: number;
  /** Name of the cost field in the create answer: mimic and image templates say `credit`. */
  creditField: 'credits' | 'credit';
}

/** An image template job (the Platform's only image create). */
export interface ImageSpec {
  kind: 'image';
  prompt: string;
  quality: string;
  aspectRatio: string;
  templateId: string;
  cost: number;
  creditField: 'credit';
}

export type JobSpec = VideoSpec | ImageSpec;

/** The shape of an existing video an editing operation starts from. */
export interface SourceVideo {
  /** source_video_id when the source is a generated video; null for an uploaded one. */
  videoId: string | null;
  model: string;
  quality: string;
  duration: number;
  aspectRatio: string;
}

/** Per-request view of the caller's own uploads and videos (ids are decimal strings). */
export interface Lookup {
  /** Kind of an upload of this key, if any. */
  upload(id: string): 'image' | 'video' | 'audio' | undefined;
  /** A video job of this key with its current status (1, 5, 6, 7, 8), if any. */
  video(id: string): { status: number; spec: VideoSpec } | undefined;
  /** Whether this key may name the webhook in a create (registered, and not another key's). */
  webhook(id: string): boolean;
}

/** Defaults shared by the video validators; each overrides what its endpoint decides. */
export function videoSpec(
  fields: Partial<VideoSpec> & Pick<VideoSpec, 'mode' | 'model' | 'quality' | 'duration'>,
): VideoSpec {
  return {
    kind: 'video',
    prompt: '',
    negativePrompt: '',
    style: '',
    aspectRatio: '16:9',
    motionMode: 'normal',
    seed: null,
    audio: false,
    soundEffect: false,
    multiClip: false,
    templateId: null,
    sourceVideoId: null,
    webhookId: null,
    cost: 0,
    creditField: 'credits',
    ...fields,
  };
}
