/**
 * Static catalogues the Platform API lists (reference §3.8, §3.11, §11.10): TTS speakers, restyle
 * presets and effect templates. The speakers are the 15 documented ones; restyles and templates are
 * fixtures shaped after useapi.net's effect items, chosen so every template rule can be exercised:
 * not activated (500070), no 720p/1080p (500071), multi-image (effect_type 2/3) and image output
 * (template_type 2, for /image/template/generate).
 */

export interface Speaker {
  speaker_id: string;
  name: string;
}

const SPEAKER_NAMES = [
  'Emily',
  'James',
  'Isabella',
  'Liam',
  'Chloe',
  'Adrian',
  'Harper',
  'Ava',
  'Sophia',
  'Julia',
  'Mason',
  'Jack',
  'Oliver',
  'Ethan',
];

/** speaker_id "1"…"14" plus "Auto" (reference §3.8). */
export const SPEAKERS: readonly Speaker[] = [
  ...SPEAKER_NAMES.map((name, i) => ({ speaker_id: String(i + 1), name })),
  { speaker_id: 'Auto', name: 'Auto' },
];
export const SPEAKER_IDS: ReadonlySet<string> = new Set(SPEAKERS.map((s) => s.speaker_id));

export interface Restyle {
  restyle_id: string;
  restyle_name: string;
  thumbnail_url: string;
}

const RESTYLE_NAMES = [
  'Anime',
  'Clay',
  'Pixel Art',
  'Watercolor',
  'Cyberpunk',
  'Comic',
  'Oil Painting',
  'Sketch',
];

export const RESTYLES: readonly Restyle[] = RESTYLE_NAMES.map((name, i) => ({
  restyle_id: String(331_000_000_000_101 + i),
  restyle_name: name,
  thumbnail_url: `https://media.pixverse.ai/restyle/${name.toLowerCase().replace(/\s+/g, '-')}.webp`,
}));
export const RESTYLE_IDS: ReadonlySet<string> = new Set(RESTYLES.map((r) => r.restyle_id));

export interface Template {
  template_id: string;
  display_name: string;
  display_prompt: string;
  /** Number of input images, as a string ("1"…"3"), like useapi.net's items. */
  effect_type: string;
  /** 1 = video effect (/video/img/generate), 2 = image effect (/image/template/generate). */
  template_type: 1 | 2;
  qualities: string[];
  duration: number;
  /** Activated in the platform's effects management; otherwise a create answers 500070. */
  activated: boolean;
  /** Price of one image-template generation (video templates cost a normal generation). */
  credits: number;
  thumbnail_url: string;
}

const ALL_QUALITIES = ['360p', '540p', '720p', '1080p'];
const LOW_QUALITIES = ['360p', '540p'];

type Row = [
  id: number,
  name: string,
  inputs: number,
  type: 1 | 2,
  qualities: string[],
  duration: number,
  activated: boolean,
  credits: number,
];

const TEMPLATE_ROWS: Row[] = [
  [302325299692608, 'Muscle Surge', 1, 1, ALL_QUALITIES, 5, true, 0],
  [302325299692611, 'Hug', 2, 1, ALL_QUALITIES, 5, true, 0],
  [302325299692614, 'Kiss', 2, 1, ALL_QUALITIES, 5, true, 0],
  [302325299692617, 'Venom', 1, 1, ALL_QUALITIES, 8, true, 0],
  [302325299692620, 'Squish It', 1, 1, ALL_QUALITIES, 5, true, 0],
  [302325299692623, 'Earth Zoom', 1, 1, LOW_QUALITIES, 5, true, 0],
  [302325299692626, 'Family Photo', 3, 1, ALL_QUALITIES, 5, true, 0],
  [302325299692629, 'Jiggle', 1, 1, ALL_QUALITIES, 5, false, 0],
  [302325299692632, 'Hulk', 1, 1, ALL_QUALITIES, 5, false, 0],
  [302325299692635, 'Anime Portrait', 1, 2, ['1080p'], 0, true, 10],
  [302325299692638, 'Couple Portrait', 2, 2, ['1080p'], 0, true, 15],
  [302325299692641, 'Ghibli Still', 1, 2, ['1080p'], 0, false, 10],
];

export const TEMPLATES: readonly Template[] = TEMPLATE_ROWS.map(
  ([id, name, inputs, type, qualities, duration, activated, credits]) => ({
    template_id: String(id),
    display_name: name,
    display_prompt: `${name} effect`,
    effect_type: String(inputs),
    template_type: type,
    qualities,
    duration,
    activated,
    credits,
    thumbnail_url: `https://media.pixverse.ai/template/${id}.webp`,
  }),
);

const TEMPLATE_BY_ID = new Map(TEMPLATES.map((t) => [t.template_id, t]));

export function templateById(id: string): Template | undefined {
  return TEMPLATE_BY_ID.get(id);
}
