import { InvalidArgument, quote } from "./errors.js";

/** Maximum identifier length in bytes; only ASCII can match, so also in characters. */
export const IDENTIFIER_MAX_LENGTH = 76;

const IDENTIFIER_PATTERN = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;
const IDENTIFIER_PATTERN_TEXT = "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$";

/**
 * Validate a containerd identifier (container ids, namespace names).
 * The length check precedes the pattern check, as in containerd.
 */
export function validateIdentifier(value: string): void {
  if (value === "") {
    throw new InvalidArgument("identifier must not be empty");
  }
  if (value.length > IDENTIFIER_MAX_LENGTH) {
    throw new InvalidArgument(
      `identifier ${quote(value)} greater than maximum length (${IDENTIFIER_MAX_LENGTH} characters)`,
    );
  }
  if (!IDENTIFIER_PATTERN.test(value)) {
    throw new InvalidArgument(`identifier ${quote(value)} must match ${IDENTIFIER_PATTERN_TEXT}`);
  }
}
