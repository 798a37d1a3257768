/**
 * Lexical scanner for containerd filter strings.
 *
 * This follows the scanner of containerd v1.7.9 (`filters/scanner.go`) step by
 * step, because its quirks are visible to clients: which characters may start a
 * value, where whitespace is skipped, and which error a malformed input reports.
 * Positions are UTF-16 code unit offsets into the input, where Go uses byte offsets.
 */

/** Rune returned by `next` and `peek` at the end of the input. */
export const EOF = -1;
/** Rune returned by `next` and `peek` for a character the scanner rejects. */
export const ILLEGAL = -2;

/** Token class. `other` is a character that starts no token, given in `Token.rune`. */
export type TokenKind = "eof" | "illegal" | "quoted" | "value" | "field" | "separator" | "operator" | "other";

export interface Token {
  /** Offset of the token's first character. */
  pos: number;
  kind: TokenKind;
  /** Source text of the token, delimiters included. It is empty for eof, illegal and other. */
  text: string;
  /** First rune of the token, or EOF or ILLEGAL. */
  rune: number;
}

const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const REPLACEMENT_CHARACTER = 0xfffd;

// Go's unicode.IsSpace is the Unicode White_Space property.
const WHITE_SPACE = /^\p{White_Space}$/u;
// Go's unicode.IsGraphic minus spaces: letters, marks, numbers, punctuation and symbols.
const GRAPHIC = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isSpaceRune(rune: number): boolean {
  return rune >= 0 && WHITE_SPACE.test(String.fromCodePoint(rune));
}

function isFieldRune(rune: number): boolean {
  return (
    rune === 0x5f ||
    (rune >= 0x41 && rune <= 0x5a) ||
    (rune >= 0x61 && rune <= 0x7a) ||
    (rune >= 0x30 && rune <= 0x39)
  );
}

function isOperatorRune(rune: number): boolean {
  return rune === 0x3d || rune === 0x21 || rune === 0x7e; // = ! ~
}

function isQuoteRune(rune: number): boolean {
  return rune === 0x22 || rune === 0x2f || rune === 0x7c; // " / |
}

function isSeparatorRune(rune: number): boolean {
  return rune === 0x2c || rune === 0x2e; // , .
}

// NOTE: Graphic and White_Space come from the Unicode version of this Node.js
// build. containerd v1.7.9 release binaries use Go 1.20 tables (Unicode 13), so
// characters added later may scan differently.
function isValueRune(rune: number): boolean {
  return rune >= 0 && rune !== 0x2c && GRAPHIC.test(String.fromCodePoint(rune));
}

function digitValue(rune: number): number {
  if (rune >= 0x30 && rune <= 0x39) return rune - 0x30;
  if (rune >= 0x61 && rune <= 0x66) return rune - 0x61 + 10;
  if (rune >= 0x41 && rune <= 0x46) return rune - 0x41 + 10;
  return 16; // larger than any digit in base 16
}

export class Scanner {
  /** Start of the rune that `next` returned last. */
  pos = 0;
  /** Offset just past the rune that `next` returned last. */
  ppos = 0;
  /** First error found; later errors never replace it. */
  error = "";
  /** True after an operator, so that the next word scans as a value. */
  private expectValue = false;

  constructor(readonly input: string) {}

  next(): number {
    if (this.pos >= this.input.length) {
      return EOF;
    }
    this.pos = this.ppos;
    if (this.ppos >= this.input.length) {
      return EOF;
    }

    const rune = this.input.codePointAt(this.ppos)!;
    this.ppos += rune > 0xffff ? 2 : 1;

    // Go decodes UTF-8 and reports U+FFFD, literal or from a bad byte, as a rune error.
    // A lone surrogate is the UTF-16 counterpart of a bad byte.
    if (rune === REPLACEMENT_CHARACTER || (rune >= 0xd800 && rune <= 0xdfff)) {
      this.fail("rune error");
      return ILLEGAL;
    }
    if (rune === 0) {
      this.fail("unexpected null");
      return ILLEGAL;
    }
    return rune;
  }

  /** Returns the next rune without consuming it. Errors it finds are kept. */
  peek(): number {
    const pos = this.pos;
    const ppos = this.ppos;
    const rune = this.next();
    this.pos = pos;
    this.ppos = ppos;
    return rune;
  }

  /** Skips whitespace and reads the next token. */
  scan(): Token {
    let rune = this.next();
    while (isSpaceRune(rune)) {
      rune = this.next();
    }
    const pos = this.pos;

    if (rune === EOF || rune === ILLEGAL) {
      return { pos, kind: rune === EOF ? "eof" : "illegal", text: "", rune };
    }
    if (isQuoteRune(rune)) {
      const legal = this.scanQuoted(rune);
      return { pos, kind: legal ? "quoted" : "illegal", text: this.input.slice(pos, this.ppos), rune };
    }
    if (isSeparatorRune(rune)) {
      this.expectValue = false;
      return { pos, kind: "separator", text: this.input.slice(pos, this.ppos), rune };
    }
    if (isOperatorRune(rune)) {
      this.consumeWhile(isOperatorRune);
      this.expectValue = true;
      return { pos, kind: "operator", text: this.input.slice(pos, this.ppos), rune };
    }
    // As in containerd, a quoted value leaves expectValue set. The parser accepts
    // only a separator or the end after a value, and a separator clears it.
    if (this.expectValue) {
      this.consumeWhile(isValueRune);
      this.expectValue = false;
      return { pos, kind: "value", text: this.input.slice(pos, this.ppos), rune };
    }
    if (isFieldRune(rune)) {
      this.consumeWhile(isFieldRune);
      return { pos, kind: "field", text: this.input.slice(pos, this.ppos), rune };
    }
    return { pos, kind: "other", text: "", rune };
  }

  private fail(message: string): void {
    if (this.error === "") {
      this.error = message;
    }
  }

  private consumeWhile(accept: (rune: number) => boolean): void {
    while (accept(this.peek())) {
      this.next();
    }
  }

  /** Reads up to the closing delimiter. Returns false if the literal is malformed. */
  private scanQuoted(delimiter: number): boolean {
    let legal = true;
    let rune = this.next();
    while (rune !== delimiter) {
      if (rune === NEWLINE || rune < 0) {
        this.fail("quoted literal not terminated");
        return false;
      }
      if (rune === BACKSLASH) {
        const escape = this.scanEscape(delimiter);
        rune = escape.rune;
        legal &&= escape.legal;
      } else {
        rune = this.next();
      }
    }
    return legal;
  }

  /**
   * Reads the escape after a backslash and returns the rune that follows it.
   * On an unknown escape letter the returned rune is that letter, unconsumed
   * as an escape, so scanning goes on from there.
   */
  private scanEscape(delimiter: number): { rune: number; legal: boolean } {
    const rune = this.next();
    switch (rune) {
      case 0x61: // a
      case 0x62: // b
      case 0x66: // f
      case 0x6e: // n
      case 0x72: // r
      case 0x74: // t
      case 0x76: // v
      case BACKSLASH:
      case delimiter:
        return { rune: this.next(), legal: true };
      case 0x78: // x
        return this.scanDigits(this.next(), 16, 2);
      case 0x75: // u
        return this.scanDigits(this.next(), 16, 4);
      case 0x55: // U
        return this.scanDigits(this.next(), 16, 8);
      default:
        if (rune >= 0x30 && rune <= 0x37) {
          return this.scanDigits(rune, 8, 3);
        }
        this.fail("illegal escape sequence");
        return { rune, legal: false };
    }
  }

  private scanDigits(first: number, base: number, count: number): { rune: number; legal: boolean } {
    let rune = first;
    let remaining = count;
    while (remaining > 0 && digitValue(rune) < base) {
      rune = this.next();
      remaining--;
    }
    if (remaining > 0) {
      this.fail("illegal numeric escape sequence");
      return { rune, legal: false };
    }
    return { rune, legal: true };
  }
}
