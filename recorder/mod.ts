/** The recording middleware and the default sanitizer. */
export { Recorder, type RecorderOptions, type ReplayContext, type ReplayEnv, sampled, type View } from "./index.ts";
export { type RecordingSettings } from "./recording.ts";
export {
  defaultLimits,
  defaultSanitizer,
  isSensitiveKey,
  type SanitizeLimits,
  sanitizeRecord,
  type Sanitizer,
  sanitizeValue,
} from "./sanitize.ts";
