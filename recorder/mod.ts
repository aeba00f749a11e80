/** The recording middleware and the default sanitizer. */
export { Recorder, type RecorderOptions, type ReplayContext, type ReplayEnv } from "./index.ts";
export { sampled } from "./request_data.ts";
export { type HonoComponent, honoView, type PropsOf, type Renderer, rendererOf, renderView, type View, withDoctype } from "./render.ts";
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
