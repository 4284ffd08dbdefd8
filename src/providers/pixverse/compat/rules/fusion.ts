/**
 * Reference-image ("Fusion") videos (Platform reference §3.10): images become
 * `image_references` named `image1`…`imageN`, and the prompt must name each as `@imageN` followed
 * by a space. At most 3 references on v4.5/v5 and 7 on v5.5 and later; native audio on v5.6, v6, c1.
 */
import { badRequest } from '../../../../domain/errors.ts';

export const FUSION_MODELS = ['v4.5', 'v5', 'v5.5', 'v5.6', 'v6', 'c1'] as const;
export const FUSION_AUDIO_MODELS = ['v5.6', 'v6', 'c1'] as const;
export const FUSION_FRAMES_MAX = 7;

export function fusionMaxImages(model: string): number {
  return model === 'v4.5' || model === 'v5' ? 3 : 7;
}

export const refName = (i: number) => `image${i}`;

/**
 * The prompt as PixVerse wants it: useapi's `@picN` (the v5 spelling) becomes `@imageN`, and every
 * reference is followed by a space. Throws when an image is not referenced or a reference names
 * an image that was not sent.
 */
export function fusionPrompt(prompt: string, images: number): string {
  let text = prompt.replace(/@pic(\d+)(?!\d)/g, '@image$1');
  const named = new Set<number>();
  for (const match of text.matchAll(/@image(\d+)(?!\d)/g)) {
    const n = Number(match[1]);
    if (n < 1 || n > images) {
      throw badRequest(
        `prompt names @image${match[1]} but only ${images} image${images === 1 ? ' was' : 's were'} sent (frame_1_path…frame_${images}_path)`,
      );
    }
    named.add(n);
  }
  // PixVerse reads every "@word" as a reference name, so any other "@" would be refused upstream.
  const stray = /@(?!image\d)(\S*)/.exec(text);
  if (stray)
    throw badRequest(
      `prompt may use "@" only to name reference images (@image1…@image${images}); found "@${stray[1]}"`,
    );
  for (let i = 1; i <= images; i++) {
    if (!named.has(i)) throw badRequest(`prompt must reference frame_${i}_path as @image${i}`);
  }
  text = text.replace(/@image(\d+)(?!\d)(?! )/g, '@image$1 ');
  return text;
}
