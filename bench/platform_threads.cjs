// Preloaded (node --require) into the bench's child processes, before any ES module is loaded:
// the threads that exist now are the main thread and V8's platform threads (garbage collection,
// compilation). Loading ES modules starts libuv's thread pool, which then does the persistence
// worker's file work: counted apart, as the worker's, by variant_app.ts's threadCpu.
try {
  globalThis.__honoReplayBenchStartThreads = require("node:fs").readdirSync("/proc/self/task");
} catch {
  // not Linux: no breakdown by kind of thread
}
