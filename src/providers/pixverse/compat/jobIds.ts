/**
 * Job ids as the useapi PixVerse routes accept them: the engine's id form with the PixVerse
 * segment and a PixVerse tail (the engine reads any provider's; these routes serve only PixVerse's).
 */
import { parseJobId, type JobRef } from '../../../domain/ids.ts';
import { pixverseProvider } from '../provider.ts';

/** Accepts raw and percent-encoded ids; null when the text is not a PixVerse job id. */
export function parsePixverseJobId(text: string): JobRef | null {
  const ref = parseJobId(text);
  if (!ref || ref.provider !== pixverseProvider.id) return null;
  if (ref.upstreamId === null) return ref;
  const upstreamId = pixverseProvider.parseIdTail(ref.upstreamId);
  return upstreamId === null ? null : { ...ref, upstreamId };
}
