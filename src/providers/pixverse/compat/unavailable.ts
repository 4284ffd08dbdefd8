/**
 * useapi PixVerse endpoints that drive features of the PixVerse web app which the PixVerse
 * Platform API does not have. They answer 501 with the reason instead of pretending.
 */
export const NOT_AVAILABLE: Record<string, string> = {
  '/images/create':
    'Text-to-image (POST /images/create) is not available through the PixVerse Platform API: it documents no text-to-image operation. Image-output effect templates work through POST /videos/create with template_id and first_frame_path (answered with image_id).',
  '/music/create':
    'Music generation (POST /music/create) is not available through the PixVerse Platform API: it documents no music operation. For sound on a video use POST /videos/create with audio, or sound effects.',
  '/speech/create':
    'Text-to-speech (POST /speech/create) is not available through the PixVerse Platform API: it has no standalone TTS operation. For speech on a video use POST /videos/lipsync with prompt and speaker_id.',
  '/videos/create-final':
    'POST /videos/create-final re-renders PixVerse web-app drafts (seedance-2.5), which are not available through the PixVerse Platform API.',
  '/images/upscale':
    'Image upscaling (POST /images/upscale) is not available through the PixVerse Platform API: it has no image upscale operation. POST /videos/upscale upscales videos.',
};

/** Reads of useapi's TTS catalogue, which has nothing behind it on the Platform API either. */
export const NOT_AVAILABLE_READS: Record<string, string> = {
  '/speech':
    'Text-to-speech clips (GET /speech) are not available through the PixVerse Platform API: it has no standalone TTS operation.',
  '/speech/:id':
    'Text-to-speech clips (GET /speech/{audio_id}) are not available through the PixVerse Platform API: it has no standalone TTS operation.',
  '/speech/voices':
    'The text-to-speech voice catalogue (GET /speech/voices) is not available through the PixVerse Platform API. Lip-sync voices are at GET /videos/voices.',
  '/speech/models':
    'Text-to-speech models (GET /speech/models) are not available through the PixVerse Platform API.',
};
