/**
 * A memo of what was computed from a string that may come from a client (a
 * URL, a field name, a cookie's parts, a key), for the recorder's per-request
 * shortcuts. Bounded, because clients choose those strings: at most `max`
 * entries, emptied when full (the next lookups compute again), and a key
 * longer than `maxKeyChars` is not kept. Emptying instead of evicting one at a
 * time keeps a hit a plain Map lookup.
 */
export class BoundedMemo<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number, private readonly maxKeyChars = Infinity) {}

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, value: V): void {
    if (key.length > this.maxKeyChars) return;
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, value);
  }
}
