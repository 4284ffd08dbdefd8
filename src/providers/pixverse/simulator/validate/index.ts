/**
 * Request validation for the create endpoints (reference §3), one module per endpoint family. Each
 * validator turns a parsed body into a JobSpec, or throws a SimError carrying the ErrCode PixVerse
 * would answer (absent → 400011, wrong JSON type → 400013, bad value → 400017, see fields.ts).
 */
export * from './specs.ts';
export { validateVideo, validateTransition } from './generate.ts';
export { validateMultiTransition, validateFusion } from './references.ts';
export {
  validateExtend,
  validateLipSync,
  validateSoundEffect,
  validateRestyle,
  validateMimic,
  validateModify,
  validateUpscale,
} from './edit.ts';
export { validateSwap, validateMaskSelection, type MaskSelection } from './swap.ts';
export { validateImageTemplate } from './image.ts';
