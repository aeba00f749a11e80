/**
 * `hono-replay/idb`: IndexedDB storage (browsers, service workers) through idb-keyval.
 *
 * Its own entry point, so that servers, which import `hono-replay`, never load idb-keyval:
 * nothing reachable from mod.ts may import storage/idb.ts.
 *
 * ```ts
 * import { idbStorage } from "hono-replay/idb";
 * const replay = createReplay({ views, storage: idbStorage({ name: "my-app" }) });
 * ```
 * @module
 */

export { idbStorage, type IdbStorageOptions } from "./storage/idb.ts";
