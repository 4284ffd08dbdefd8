/**
 * Generations from several images: /video/multi_transition (2–7 keyframes, reference §3.6) and
 * /video/fusion (named image references, §3.10).
 */
import { FUSION_MODELS, MULTI_TRANSITION_MODELS, VIDEO_QUALITIES, isModernModel } from '../catalog.ts';
import { ERR, fieldError } from '../envelope.ts';
import { Fields, type Body } from '../fields.ts';
import { generationCost, multiTransitionCost } from '../pricing.ts';
import {
  LEGACY_PROMPT_MAX,
  checkDuration,
  checkImage,
  checkPromptLength,
  promptMax,
  readSeed,
} from './common.ts';
import { aspectsFor } from './generate.ts';
import { videoSpec, type Lookup, type VideoSpec } from './specs.ts';

const MULTI_MIN = 2;
const MULTI_MAX = 7;
const REF_TYPES = ['subject', 'background'] as const;
const REF_NAME_MAX_BYTES = 30;

/**
 * multi_transition: [{img_id, duration, prompt?}]. Each segment lasts 1–8 s (1–5 s with 3+ items);
 * the last item is the end frame, so its duration is 0 or omitted; the whole video lasts 1–30 s.
 */
export function validateMultiTransition(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const model = f.oneOf('model', MULTI_TRANSITION_MODELS, true);
  const quality = f.oneOf('quality', VIDEO_QUALITIES, true);
  const items = f.objects('multi_transition');
  if (items === undefined || items.length === 0) throw fieldError(ERR.emptyParam, 'multi_transition');
  if (items.length < MULTI_MIN || items.length > MULTI_MAX) {
    throw fieldError(
      ERR.invalidParam,
      'multi_transition',
      `must have ${MULTI_MIN}–${MULTI_MAX} items, got ${items.length}`,
    );
  }
  const maxSegment = items.length >= 3 ? 5 : 8;
  let total = 0;
  const prompts: string[] = [];
  items.forEach((item, i) => {
    const where = `multi_transition[${i}]`;
    const imgId = item.id('img_id');
    if (imgId === undefined) throw fieldError(ERR.emptyParam, `${where}.img_id`);
    checkImage(lookup, `${where}.img_id`, imgId);
    const duration = item.int('duration');
    if (i === items.length - 1) {
      if (duration !== undefined && duration !== 0)
        throw fieldError(ERR.invalidParam, `${where}.duration`, 'must be 0 or omitted on the last item');
    } else {
      if (duration === undefined) throw fieldError(ERR.emptyParam, `${where}.duration`);
      if (duration < 1 || duration > maxSegment) {
        throw fieldError(
          ERR.invalidParam,
          `${where}.duration`,
          `must be 1–${maxSegment} with ${items.length} items`,
        );
      }
      total += duration;
    }
    const prompt = item.string('prompt');
    if (prompt !== undefined) {
      checkPromptLength(`${where}.prompt`, prompt, LEGACY_PROMPT_MAX, ERR.promptTooLong);
      if (prompt.trim() !== '') prompts.push(prompt);
    }
  });
  if (total < 1 || total > 30)
    throw fieldError(ERR.invalidParam, 'multi_transition', `total duration must be 1–30 s, got ${total}`);
  const seed = readSeed(f);
  return videoSpec({
    mode: 'multi_transition',
    model,
    quality,
    duration: total,
    seed,
    prompt: prompts.join(' '),
    cost: multiTransitionCost(quality, total),
  });
}

/**
 * Fusion: image_references [{type subject|background, img_id, ref_name}], at most 3 on v4.5/v5 and 7
 * from v5.5 on. Every reference appears in the prompt as `@ref_name` followed by a space (or the end
 * of the prompt), and every `@name` in the prompt names a reference.
 */
export function validateFusion(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const prompt = f.string('prompt', true);
  const model = f.oneOf('model', FUSION_MODELS, true);
  const duration = f.int('duration', true);
  const quality = f.oneOf('quality', VIDEO_QUALITIES, true);
  const aspectRatio = f.oneOf('aspect_ratio', aspectsFor(model), true);
  checkDuration(model, quality, duration);
  checkPromptLength('prompt', prompt, promptMax(model), ERR.promptTooLong);
  const seed = readSeed(f);
  const audio = f.bool('generate_audio_switch') ?? false;
  if (audio && (!isModernModel(model) || model === 'v5.5')) {
    throw fieldError(
      ERR.invalidParam,
      'generate_audio_switch',
      `fusion audio needs v5.6, v6 or c1, not ${model}`,
    );
  }
  const refs = f.objects('image_references');
  if (refs === undefined || refs.length === 0) throw fieldError(ERR.emptyParam, 'image_references');
  const max = model === 'v4.5' || model === 'v5' ? 3 : 7;
  if (refs.length > max)
    throw fieldError(ERR.invalidParam, 'image_references', `at most ${max} references on ${model}`);
  const names = new Set<string>();
  refs.forEach((ref, i) => {
    const where = `image_references[${i}]`;
    ref.oneOf('type', REF_TYPES, true);
    const imgId = ref.id('img_id');
    if (imgId === undefined) throw fieldError(ERR.emptyParam, `${where}.img_id`);
    checkImage(lookup, `${where}.img_id`, imgId);
    const name = ref.string('ref_name', true);
    if (/[\s@]/.test(name) || Buffer.byteLength(name) > REF_NAME_MAX_BYTES) {
      throw fieldError(
        ERR.invalidParam,
        `${where}.ref_name`,
        `must be ≤${REF_NAME_MAX_BYTES} bytes without spaces or @`,
      );
    }
    if (names.has(name)) throw fieldError(ERR.invalidParam, `${where}.ref_name`, `"${name}" is used twice`);
    names.add(name);
  });
  checkMentions(prompt, names);
  return videoSpec({
    mode: 'fusion',
    prompt,
    model,
    duration,
    quality,
    aspectRatio,
    seed,
    audio,
    cost: generationCost({ model, quality, duration, audio }),
  });
}

function checkMentions(prompt: string, names: ReadonlySet<string>): void {
  const mentioned = new Set<string>();
  for (const match of prompt.matchAll(/@([^\s@]+)(?=\s|$)|@([^\s@]*)/g)) {
    const name = match[1] ?? match[2] ?? '';
    // A name followed by punctuation is not a mention of that name (the space is part of the syntax).
    if (match[1] === undefined || !names.has(name)) {
      throw fieldError(
        ERR.invalidParam,
        'prompt',
        `@${name} does not match a ref_name (write "@name " for each reference)`,
      );
    }
    mentioned.add(name);
  }
  for (const name of names) {
    if (!mentioned.has(name))
      throw fieldError(ERR.invalidParam, 'prompt', `must mention @${name} followed by a space`);
  }
}
