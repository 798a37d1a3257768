import { InvalidArgument } from "./errors.js";

/** Encoded length in hex characters of each supported digest algorithm. */
const ALGORITHMS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

const ALGORITHM_PATTERN = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;
const ENCODED_PATTERN = /^[a-zA-Z0-9=_-]+$/;

/**
 * Validate a digest `<algorithm>:<encoded>` as go-digest does, returning the reason
 * text on failure: `invalid checksum digest format`, `invalid checksum digest length`
 * or `unsupported digest algorithm`.
 */
export function digestProblem(value: string): string | undefined {
  const colon = value.indexOf(":");
  if (colon <= 0 || colon + 1 === value.length) return "invalid checksum digest format";
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  const length = Object.hasOwn(ALGORITHMS, algorithm) ? ALGORITHMS[algorithm] : undefined;
  if (length === undefined) {
    if (!ALGORITHM_PATTERN.test(algorithm) || !ENCODED_PATTERN.test(encoded)) {
      return "invalid checksum digest format";
    }
    return "unsupported digest algorithm";
  }
  // go-digest checks the length before the characters.
  if (encoded.length !== length) return "invalid checksum digest length";
  if (!/^[a-f0-9]+$/.test(encoded)) return "invalid checksum digest format";
  return undefined;
}

/** Throw InvalidArgument `<context>: <reason>` unless `value` is a valid digest. */
export function validateDigest(value: string, context: (reason: string) => string): void {
  const problem = digestProblem(value);
  if (problem !== undefined) throw new InvalidArgument(context(problem));
}
