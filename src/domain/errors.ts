/**
 * Typed errors named after containerd's errdefs classes.
 *
 * A containerd message is built by wrapping: `<context>: <cause>: <kind text>`, so
 * every message here ends with the kind text (`container "web": already exists`).
 * Errors are recognised by class or `kind`, never by their message text.
 */

export type ErrorKind =
  | "InvalidArgument"
  | "NotFound"
  | "AlreadyExists"
  | "FailedPrecondition"
  | "NotImplemented"
  | "Unavailable"
  | "Conflict"
  | "DeadlineExceeded"
  | "PermissionDenied"
  | "Unknown";

/** gRPC status codes, as containerd's errdefs translates each kind. */
export const GRPC_CODES: Record<ErrorKind, number> = {
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  FailedPrecondition: 9,
  Conflict: 10,
  NotImplemented: 12,
  Unavailable: 14,
};

const KIND_TEXT: Record<ErrorKind, string> = {
  InvalidArgument: "invalid argument",
  NotFound: "not found",
  AlreadyExists: "already exists",
  FailedPrecondition: "failed precondition",
  NotImplemented: "not implemented",
  Unavailable: "unavailable",
  Conflict: "conflict",
  DeadlineExceeded: "deadline exceeded",
  PermissionDenied: "permission denied",
  Unknown: "",
};

/** Base class of every error that crosses an API edge. */
export class MetadataError extends Error {
  readonly kind: ErrorKind;

  /**
   * @param kind errdefs class
   * @param context text before the kind text, without the trailing `: kind`
   */
  constructor(kind: ErrorKind, context: string, options?: { cause?: unknown }) {
    const text = KIND_TEXT[kind];
    super(text === "" ? context : context === "" ? text : `${context}: ${text}`, options);
    this.kind = kind;
    this.name = `${kind}Error`;
  }

  get grpcCode(): number {
    return GRPC_CODES[this.kind];
  }

  /** Prefix the message with more context, keeping the kind (Go's errors.Wrapf). */
  wrap(context: string): MetadataError {
    const wrapped = new MetadataError(this.kind, "", { cause: this });
    wrapped.message = `${context}: ${this.message}`;
    return wrapped;
  }
}

export class InvalidArgument extends MetadataError {
  constructor(context: string) {
    super("InvalidArgument", context);
  }
}

export class NotFound extends MetadataError {
  constructor(context: string) {
    super("NotFound", context);
  }
}

export class AlreadyExists extends MetadataError {
  constructor(context: string) {
    super("AlreadyExists", context);
  }
}

export class FailedPrecondition extends MetadataError {
  constructor(context: string) {
    super("FailedPrecondition", context);
  }
}

export class NotImplemented extends MetadataError {
  constructor(context: string) {
    super("NotImplemented", context);
  }
}

export class Unavailable extends MetadataError {
  constructor(context: string, options?: { cause?: unknown }) {
    super("Unavailable", context, options);
  }
}

/** An optimistic-concurrency race was lost: the aggregate changed since it was read. */
export class Conflict extends MetadataError {
  constructor(context: string, options?: { cause?: unknown }) {
    super("Conflict", context, options);
  }
}

export class DeadlineExceeded extends MetadataError {
  constructor(context: string) {
    super("DeadlineExceeded", context);
  }
}

/** An error without an errdefs class; clients see gRPC `Unknown`. */
export class UnknownError extends MetadataError {
  constructor(message: string) {
    super("Unknown", message);
  }
}

/** Build an error of the given kind, as its own class, whose message is exactly `message`. */
export function errorFromReply(kind: string, message: string): MetadataError {
  const known = kind in GRPC_CODES ? (kind as ErrorKind) : "Unknown";
  const error = ERROR_CLASSES[known]();
  error.message = message;
  return error;
}

const ERROR_CLASSES: Record<ErrorKind, () => MetadataError> = {
  InvalidArgument: () => new InvalidArgument(""),
  NotFound: () => new NotFound(""),
  AlreadyExists: () => new AlreadyExists(""),
  FailedPrecondition: () => new FailedPrecondition(""),
  NotImplemented: () => new NotImplemented(""),
  Unavailable: () => new Unavailable(""),
  Conflict: () => new Conflict(""),
  DeadlineExceeded: () => new DeadlineExceeded(""),
  PermissionDenied: () => new MetadataError("PermissionDenied", ""),
  Unknown: () => new UnknownError(""),
};

/** Map a gRPC status code back to the kind that produces it. */
export function kindFromGrpcCode(code: number): ErrorKind {
  for (const [kind, value] of Object.entries(GRPC_CODES)) {
    if (value === code) return kind as ErrorKind;
  }
  return "Unknown";
}

export function isMetadataError(error: unknown): error is MetadataError {
  return error instanceof MetadataError;
}

/**
 * Quote a string the way Go's `%q` does (strconv.Quote), so that messages match
 * containerd's byte for byte and never carry raw control characters.
 */
export function quote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (cp === 0x07) out += "\\a";
    else if (cp === 0x08) out += "\\b";
    else if (cp === 0x0c) out += "\\f";
    else if (cp === 0x0a) out += "\\n";
    else if (cp === 0x0d) out += "\\r";
    else if (cp === 0x09) out += "\\t";
    else if (cp === 0x0b) out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp >= 0x80 && cp < 0xa0) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else if (cp === 0xfffd && ch !== "\ufffd") out += "\\ufffd";
    else out += ch;
  }
  return out + '"';
}

/**
 * An error whose message is exactly `message`, without the kind text: what a gRPC
 * service returns with `status.Errorf` (e.g. `Image.Name required`).
 */
export function statusError(kind: ErrorKind, message: string): MetadataError {
  return errorFromReply(kind, message);
}
