/** The SharedArrayBuffer log and the persistence worker that drains it. */
export { createRingBuffer, RingReader, RingWriter } from "./ring.ts";
export { EventLog, type EventLogOptions } from "./log.ts";
export { EngineHost, type HostOptions } from "./host.ts";
export type { EngineOptions, EngineRequest, EngineStats } from "./engine_types.ts";
export { backgroundTimer, currentPid, isDeno } from "./runtime.ts";
