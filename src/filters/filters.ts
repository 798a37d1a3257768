/**
 * containerd filter syntax: parsing and matching, as in containerd v1.7.9
 * (`filters/parser.go` and `filters/filter.go`).
 *
 * A filter string is a `,`-separated list of selectors, all of which must match.
 * A selector is `fieldpath [op value]` with the operators `==`, `!=` and `~=` (an
 * unanchored RE2 regular expression). A list of filter strings matches when any
 * string matches. Parse errors are InvalidArgument with containerd's message text,
 * for example `filters: parse error: [name >|<|< x]: expected an operator ("=="|"!="|"~=")`.
 */

import { RE2JS, RE2JSException } from "re2js";

import { InvalidArgument, quote } from "../domain/errors.js";
import { unquote, type Unquoted } from "./quote.js";
import { EOF, ILLEGAL, Scanner, type Token } from "./scanner.js";

/** Returns the field's value and whether the object has it. */
export type FieldAdaptor = (fieldpath: readonly string[]) => { value: string; present: boolean };

export interface Filter {
  match(adaptor: FieldAdaptor): boolean;
}

/** Filter that matches every object. */
export const ALWAYS: Filter = Object.freeze({ match: () => true });

/**
 * Parse a list of filter strings (ORed). Empty list → ALWAYS. Throws InvalidArgument.
 *
 * Every string is parsed before the filter is returned, so one malformed string
 * fails the whole list even when the others are valid.
 */
export function parseFilters(filters: readonly string[]): Filter {
  if (filters.length === 0) {
    return ALWAYS;
  }
  const parsed = filters.map((filter) => parseFilter(filter));
  return parsed.length === 1 ? parsed[0]! : new AnyFilter(parsed);
}

/**
 * Parse the filters of a List of containers, images or leases. containerd's
 * metadata store wraps the parse error in ErrInvalidArgument once more
 * (metadata/containers.go, images.go and leases.go in v1.6.20 and v1.7.9), so the
 * message ends with `invalid argument: invalid argument`.
 */
export function parseStoreFilters(filters: readonly string[]): Filter {
  try {
    return parseFilters(filters);
  } catch (error) {
    if (error instanceof InvalidArgument) throw new InvalidArgument(error.message);
    throw error;
  }
}

/**
 * Parse one filter string (ANDed selectors). The empty string matches everything.
 * Throws InvalidArgument with the same message as parseFilters.
 */
export function parseFilter(filter: string): Filter {
  if (filter === "") {
    return ALWAYS;
  }
  return new Parser(filter).parse();
}

/**
 * Helper for adaptors: look up `labels.<rest joined by ".">` style keys.
 * An empty `rest` looks up the empty key, as containerd does for a bare `labels` selector.
 */
export function lookupMap(
  map: Readonly<Record<string, string>> | undefined,
  rest: readonly string[],
): { value: string; present: boolean } {
  const key = rest.join(".");
  if (map === undefined || !Object.hasOwn(map, key)) {
    return { value: "", present: false };
  }
  return { value: map[key]!, present: true };
}

class AnyFilter implements Filter {
  constructor(private readonly filters: readonly Filter[]) {}

  match(adaptor: FieldAdaptor): boolean {
    return this.filters.some((filter) => filter.match(adaptor));
  }
}

class AllFilter implements Filter {
  constructor(private readonly filters: readonly Filter[]) {}

  match(adaptor: FieldAdaptor): boolean {
    return this.filters.every((filter) => filter.match(adaptor));
  }
}

type Operator = "==" | "!=" | "~=";

class PresenceSelector implements Filter {
  constructor(private readonly fieldpath: readonly string[]) {}

  match(adaptor: FieldAdaptor): boolean {
    return adaptor(this.fieldpath).present;
  }
}

class ComparisonSelector implements Filter {
  /** Compiled `~=` pattern. It is null for the other operators and for a pattern that does not compile. */
  private readonly regex: RE2JS | null;

  constructor(
    private readonly fieldpath: readonly string[],
    private readonly operator: Operator,
    private readonly operand: Unquoted,
  ) {
    this.regex = operator === "~=" && operand.validUtf8 ? compileRegex(operand.text) : null;
  }

  match(adaptor: FieldAdaptor): boolean {
    const { value, present } = adaptor(this.fieldpath);
    // An operand that is not valid UTF-8 differs from every JavaScript string.
    const equal = this.operand.validUtf8 && value === this.operand.text;

    switch (this.operator) {
      case "==":
        return present && equal;
      case "!=":
        // Presence is not required, so an absent field compares as "".
        return !equal;
      case "~=":
        return this.regex !== null && this.regex.test(value);
    }
  }
}

const COMMA = 0x2c;
const DOT = 0x2e;

const OPERATORS: ReadonlySet<string> = new Set<Operator>(["==", "!=", "~="]);

/** Recursive-descent parser over the scanner's tokens, one instance per filter string. */
class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  parse(): Filter {
    const selectors = [this.selector()];
    for (;;) {
      const next = this.scanner.peek();
      if (next === EOF) {
        break;
      }
      if (next !== COMMA) {
        throw this.error(this.scanner.ppos, `unexpected input: ${runeText(next)}`);
      }
      this.scanner.scan();
      selectors.push(this.selector());
    }
    return selectors.length === 1 ? selectors[0]! : new AllFilter(selectors);
  }

  private selector(): Filter {
    const fieldpath = this.fieldpath();

    const next = this.scanner.peek();
    if (next === COMMA || next === EOF) {
      return new PresenceSelector(fieldpath);
    }

    const operator = this.operator();
    const operand = this.value(operator === "~=");
    return new ComparisonSelector(fieldpath, operator, operand);
  }

  private fieldpath(): string[] {
    const fields = [this.field()];
    while (this.scanner.peek() === DOT) {
      this.scanner.scan();
      fields.push(this.field());
    }
    return fields;
  }

  private field(): string {
    const token = this.scanner.scan();
    switch (token.kind) {
      case "field":
        return token.text;
      case "quoted":
        // NOTE: a quoted field whose escapes are not valid UTF-8 is looked up with
        // U+FFFD in their place, where containerd looks up the raw bytes.
        return this.unquote(token, false).text;
      case "illegal":
        throw this.error(token.pos, this.scanner.error);
      default:
        throw this.error(token.pos, "expected field or quoted");
    }
  }

  private operator(): Operator {
    const token = this.scanner.scan();
    switch (token.kind) {
      case "operator":
        if (!isOperator(token.text)) {
          throw this.error(token.pos, `unsupported operator ${quote(token.text)}`);
        }
        return token.text;
      case "illegal":
        throw this.error(token.pos, this.scanner.error);
      default:
        throw this.error(token.pos, 'expected an operator ("=="|"!="|"~=")');
    }
  }

  /** Reads an operand. `/…/` and `|…|` quoting is allowed only when `allowAltQuotes` is set. */
  private value(allowAltQuotes: boolean): Unquoted {
    const token = this.scanner.scan();
    switch (token.kind) {
      case "value":
      case "field":
        return { text: token.text, validUtf8: true };
      case "quoted":
        return this.unquote(token, allowAltQuotes);
      case "illegal":
        throw this.error(token.pos, this.scanner.error);
      default:
        throw this.error(token.pos, "expected value or quoted");
    }
  }

  private unquote(token: Token, allowAltQuotes: boolean): Unquoted {
    if (!allowAltQuotes && !token.text.startsWith('"')) {
      throw this.error(token.pos, "invalid quote encountered");
    }
    const decoded = unquote(token.text);
    if (decoded === undefined) {
      throw this.error(token.pos, "unquoting failed: quote syntax error");
    }
    return decoded;
  }

  /**
   * Builds containerd's parse error: the input with the character at `pos` marked
   * as `[before >|x|< after]`, or the whole input in brackets when `pos` is at the end.
   */
  private error(pos: number, reason: string): InvalidArgument {
    let location = `[${this.input}]`;
    if (pos < this.input.length) {
      // NOTE: Go marks a single byte and so splits a multi-byte character, but
      // this marks the whole character.
      const marked = String.fromCodePoint(this.input.codePointAt(pos)!);
      const before = this.input.slice(0, pos);
      const after = this.input.slice(pos + marked.length);
      location = `[${before} >|${marked}|< ${after}]`;
    }
    return new InvalidArgument(`filters: parse error: ${location}: ${reason}`);
  }
}

function isOperator(text: string): text is Operator {
  return OPERATORS.has(text);
}

/** Text of a peeked rune in an error message; Go prints an illegal rune as U+FFFD. */
function runeText(rune: number): string {
  return String.fromCodePoint(rune === ILLEGAL ? 0xfffd : rune);
}

const REGEX_CACHE_LIMIT = 256;
/** Compiled patterns by source, shared by all filters. A pattern that does not compile maps to null. */
const regexCache = new Map<string, RE2JS | null>();

/** Compiles a `~=` pattern once, returning null where Go's regexp.Compile fails. */
function compileRegex(pattern: string): RE2JS | null {
  const cached = regexCache.get(pattern);
  if (cached !== undefined) {
    return cached;
  }

  const compiled = compileUncached(pattern);
  if (regexCache.size >= REGEX_CACHE_LIMIT) {
    const oldest = regexCache.keys().next().value;
    if (oldest !== undefined) {
      regexCache.delete(oldest);
    }
  }
  regexCache.set(pattern, compiled);
  return compiled;
}

function compileUncached(pattern: string): RE2JS | null {
  // containerd v1.7.9 release binaries use Go 1.20, whose regexp rejects `(?<name>…)`;
  // re2js accepts it, as Go 1.22 and later do.
  if (hasAngleBracketGroup(pattern)) {
    return null;
  }
  try {
    return RE2JS.compile(pattern);
  } catch (error) {
    if (error instanceof RE2JSException) {
      return null;
    }
    throw error;
  }
}

/**
 * Reports whether the pattern contains `(?<` outside escapes, `\Q…\E` literals and
 * character classes. Go 1.20 rejects every such group: named groups and lookbehind.
 */
function hasAngleBracketGroup(pattern: string): boolean {
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];

    if (ch === "\\") {
      if (pattern[i + 1] === "Q") {
        const end = pattern.indexOf("\\E", i + 2);
        i = end === -1 ? pattern.length : end + 2;
      } else {
        i += 2;
      }
      continue;
    }

    if (ch === "[") {
      i = skipCharacterClass(pattern, i);
      continue;
    }

    if (pattern.startsWith("(?<", i)) {
      return true;
    }
    i++;
  }
  return false;
}

/** Returns the offset just past the character class that starts at `start`. */
function skipCharacterClass(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === "^") {
    i++;
  }
  // A `]` right after `[` or `[^` is a literal member of the class.
  if (pattern[i] === "]") {
    i++;
  }

  while (i < pattern.length && pattern[i] !== "]") {
    if (pattern[i] === "\\") {
      i += 2;
    } else if (pattern.startsWith("[:", i) && pattern.indexOf(":]", i + 2) !== -1) {
      i = pattern.indexOf(":]", i + 2) + 2;
    } else {
      i++;
    }
  }
  return i + 1;
}
