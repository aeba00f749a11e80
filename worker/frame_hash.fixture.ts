/** Test fixture: the hash the ring test and its draining worker both compute over every frame, in order. */

/** FNV-1a over `text`, chained from `hash`, with a separator so ["ab", "c"] and ["a", "bc"] differ. */
export function chainHash(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= 0x0a;
  return Math.imul(h, 0x01000193) >>> 0;
}
