/**
 * The dashboard's one cache type: a map of at most `capacity` entries that
 * drops the least recently used one. Everything the dashboard keeps in memory
 * (decoded recordings, fidelity results, corrupt-file reasons) is in one of
 * these, so nothing it remembers grows with the number of recordings looked at.
 *
 * Only a cache: whoever reads it must be right when the entry is gone, and
 * must say when an entry stops being true (recordings.ts revalidates what it
 * keeps against the store; a delete forgets the id everywhere).
 */
export class LruCache<K, V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LruCache capacity must be a positive integer, not ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, marked as just used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
