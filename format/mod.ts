/** The event format, the codec and the recording file: shared by every part of the pipeline. */
export { decode, encode, encodeKey, type Format } from "./codec.ts";
export * from "./events.ts";
export * from "./errors.ts";
export { type AssembledRecording, assembleSegments, MAX_EVENT_NAME_CHARS, MAX_EVENT_NAMES, type SegmentText, truncateEventName } from "./segments.ts";
export { assertValidId, contentDigest, isValidId, newRecordingId, randomToken, shortHash } from "./ids.ts";
export {
  compressText,
  type Deflate,
  decodeRecordingColumns,
  decodeRecordingFile,
  encodeRecordingFile,
  type RecordingColumns,
  type RecordingMeta,
  recordingFromText,
  recordingText,
} from "./recording_file.ts";
