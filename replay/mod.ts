/** Replay: reconstruct the assigns at any moment and re-render the view. */
export { type Frame, type FrameEvent, reconstruct, Timeline } from "./reconstruct.ts";
export { type FidelityReport, Player, type RenderedFrame, type View } from "./player.ts";
export { type CleanupSettings, type ErasureReport, ReplayStore, type ReplayStoreOptions } from "./store.ts";
