/**
 * Decoding of quoted filter literals.
 *
 * containerd v1.7.9 (`filters/quote.go`) decodes quoted fields and values with a
 * variant of Go's strconv.Unquote that also accepts `/` and `|` as delimiters.
 * The decoded value is a Go string, so it is a byte sequence: `\xNN` and octal
 * escapes append single bytes, and `\u`/`\U` escapes append UTF-8 encodings.
 */

/** A decoded literal. */
export interface Unquoted {
  /** Decoded text. Byte sequences that are not valid UTF-8 become U+FFFD. */
  text: string;
  /**
   * False when the escapes produced bytes that are not valid UTF-8. No JavaScript
   * string can equal such a Go string, and Go's regexp package rejects it.
   */
  validUtf8: boolean;
}

const DELIMITERS = new Set(['"', "/", "|"]);
const MAX_CODE_POINT = 0x10ffff;
/** Number of hex digits after each hex escape letter. */
const HEX_DIGIT_COUNTS: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  "\\": 0x5c,
};

const utf8Encoder = new TextEncoder();
const strictUtf8Decoder = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8Decoder = new TextDecoder("utf-8");

/**
 * Decodes a quoted literal, delimiters included, such as `"a\tb"` or `/a\/b/`.
 * Returns undefined on a syntax error, where Go reports `quote syntax error`.
 */
export function unquote(literal: string): Unquoted | undefined {
  const delimiter = literal[0];
  if (literal.length < 2 || delimiter === undefined || !DELIMITERS.has(delimiter)) {
    return undefined;
  }
  if (literal[literal.length - 1] !== delimiter) {
    return undefined;
  }

  const body = literal.slice(1, -1);
  if (body.includes("\n")) {
    return undefined;
  }

  const bytes: number[] = [];
  let i = 0;
  while (i < body.length) {
    const ch = body[i]!;
    if (ch === delimiter) {
      return undefined;
    }
    if (ch !== "\\") {
      const codePoint = body.codePointAt(i)!;
      const char = String.fromCodePoint(codePoint);
      bytes.push(...utf8Encoder.encode(char));
      i += char.length;
      continue;
    }

    const consumed = decodeEscape(body, i + 1, delimiter, bytes);
    if (consumed === undefined) {
      return undefined;
    }
    i += 1 + consumed;
  }

  return decodeBytes(Uint8Array.from(bytes));
}

/**
 * Appends the bytes of the escape whose letter is at `start` (just after the
 * backslash). Returns how many characters the escape used after the backslash,
 * or undefined if the escape is invalid.
 */
function decodeEscape(body: string, start: number, delimiter: string, bytes: number[]): number | undefined {
  const letter = body[start];
  if (letter === undefined) {
    return undefined;
  }

  const simple = SIMPLE_ESCAPES[letter];
  if (simple !== undefined) {
    bytes.push(simple);
    return 1;
  }

  const digitCount = HEX_DIGIT_COUNTS[letter];
  if (digitCount !== undefined) {
    const digits = body.slice(start + 1, start + 1 + digitCount);
    if (!/^[0-9A-Fa-f]+$/.test(digits) || digits.length !== digitCount) {
      return undefined;
    }
    const value = Number.parseInt(digits, 16);
    if (letter === "x") {
      bytes.push(value);
    } else if (value > MAX_CODE_POINT) {
      return undefined;
    } else {
      bytes.push(...encodeCodePoint(value));
    }
    return 1 + digitCount;
  }

  if (letter >= "0" && letter <= "7") {
    const digits = body.slice(start, start + 3);
    if (!/^[0-7]{3}$/.test(digits)) {
      return undefined;
    }
    const value = Number.parseInt(digits, 8);
    if (value > 0xff) {
      return undefined;
    }
    bytes.push(value);
    return 3;
  }

  // Go accepts an escaped quote character only when it is the literal's own delimiter.
  if (letter === delimiter) {
    bytes.push(letter.charCodeAt(0));
    return 1;
  }
  return undefined;
}

/** Encodes a code point as UTF-8, turning a surrogate into U+FFFD as Go's utf8.EncodeRune does. */
function encodeCodePoint(codePoint: number): Uint8Array {
  const isSurrogate = codePoint >= 0xd800 && codePoint <= 0xdfff;
  return utf8Encoder.encode(String.fromCodePoint(isSurrogate ? 0xfffd : codePoint));
}

function decodeBytes(bytes: Uint8Array): Unquoted {
  try {
    return { text: strictUtf8Decoder.decode(bytes), validUtf8: true };
  } catch (error) {
    if (!(error instanceof TypeError)) {
      throw error;
    }
    return { text: lenientUtf8Decoder.decode(bytes), validUtf8: false };
  }
}
