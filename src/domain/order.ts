/**
 * Compare two strings by the byte order of their UTF-8 encodings, which is how
 * containerd orders every list. JavaScript's `<` compares UTF-16 code units and
 * disagrees for code points above U+FFFF against U+E000..U+FFFF.
 */
export function compareBytes(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates encode code points above U+FFFF: move them above U+E000..U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** A UTF-16 code unit from U+D800 up: the only ones where `<` and byte order can disagree. */
const HIGH_CODE_UNIT = /[\ud800-\uffff]/;

/**
 * Sort keys in place by byte order and return them. When no key has a code unit
 * from U+D800 up, which is the common case, the two orders agree and the engine's
 * own string sort (several times faster than a comparator) is used.
 */
export function sortBytes(keys: string[]): string[] {
  for (const key of keys) {
    if (HIGH_CODE_UNIT.test(key)) return keys.sort(compareBytes);
  }
  return keys.sort();
}
