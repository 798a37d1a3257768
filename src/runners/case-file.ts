/**
 * Loading and validation of a conformance cases file (`{vocabulary, cases}`).
 *
 * Everything is checked before anything runs, so a malformed file fails with one
 * CaseFileError naming the case, the step and the field. `$repeat` objects are
 * expanded here, and a writeContent step's digest and size are checked against its
 * data. Steps are numbered from 0, as indexes into a case's `steps` array.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { expandRepeats, isPlainObject, RepeatError, type Expectation, type Json, type JsonObject } from "./expectations.js";
import { OPERATIONS, type FieldSpec, type OperationName, type Shape } from "./operation-specs.js";

export interface Step {
  index: number;
  op: OperationName;
  /** Namespace of the request context; "" sends none. */
  namespace?: string;
  lease?: string;
  args: JsonObject;
  expect: Expectation;
}

export interface Case {
  id: string;
  title: string;
  /** Run without namespace prefixing. */
  rawNamespaces: boolean;
  steps: Step[];
}

export class CaseFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaseFileError";
  }
}

const STEP_FIELDS = new Set(["op", "namespace", "lease", "args", "expect", "departure", "containerd"]);
const CASE_FIELDS = ["id", "area", "title", "note", "rawNamespaces", "steps", "source", "split", "oracle", "observed16"];
const SUCCESS_FIELDS = new Set(["ok", "record", "keys", "records", "resources", "timestamps", "count"]);
const FAILURE_FIELDS = new Set(["error", "messageContains"]);
/** The error kinds of the format, used when the file's vocabulary declares none. */
const STANDARD_ERROR_KINDS = ["InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition", "NotImplemented", "Unknown"];

/** Location of a problem in the file, e.g. `case "x" step 3 (createContainer)`, that builds its errors. */
class Location {
  constructor(readonly text: string) {}

  error(field: string, problem: string): CaseFileError {
    return new CaseFileError(`${this.text}: ${field === "" ? "" : `${field}: `}${problem}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

function checkAny(value: Json, where: Location, path: string): void {
  if (!isPlainObject(value)) throw where.error(path, `expected an Any {typeUrl, value} or {typeUrl, valueBase64}, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (!["typeUrl", "value", "valueBase64"].includes(key)) throw where.error(`${path}.${key}`, "unknown field of an Any");
  }
  if (value.typeUrl !== undefined && typeof value.typeUrl !== "string") throw where.error(`${path}.typeUrl`, "expected a string");
  if (value.value !== undefined && value.valueBase64 !== undefined) throw where.error(path, "give either value or valueBase64, not both");
  if (value.valueBase64 !== undefined && (typeof value.valueBase64 !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value.valueBase64))) {
    throw where.error(`${path}.valueBase64`, "expected a base64 string");
  }
}

function checkShape(value: Json, shape: Shape, where: Location, path: string): void {
  switch (shape) {
    case "string":
    case "number":
    case "boolean":
      if (typeof value !== shape) throw where.error(path, `expected a ${shape}, got ${describe(value)}`);
      return;
    case "stringList":
      if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
        throw where.error(path, `expected a list of strings, got ${describe(value)}`);
      }
      return;
    case "stringMap":
      if (!isPlainObject(value)) throw where.error(path, `expected a map of strings, got ${describe(value)}`);
      for (const key of Object.keys(value)) {
        if (typeof value[key] !== "string") throw where.error(`${path}[${JSON.stringify(key)}]`, `expected a string, got ${describe(value[key])}`);
      }
      return;
    case "any":
      checkAny(value, where, path);
      return;
    case "anyMap":
      if (!isPlainObject(value)) throw where.error(path, `expected a map of Any values, got ${describe(value)}`);
      for (const key of Object.keys(value)) checkAny(value[key]!, where, `${path}[${JSON.stringify(key)}]`);
      return;
    default:
      if (!isPlainObject(value)) throw where.error(path, `expected an object, got ${describe(value)}`);
      checkFields(value, shape, where, path);
  }
}

function checkFields(value: JsonObject, fields: Record<string, FieldSpec>, where: Location, path: string): void {
  const prefix = path === "" ? "" : `${path}.`;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(fields, key)) throw where.error(`${prefix}${key}`, `unknown field; expected one of ${Object.keys(fields).join(", ")}`);
  }
  for (const [key, spec] of Object.entries(fields)) {
    const item = value[key];
    if (item === undefined || (item === null && !spec.required)) {
      if (spec.required) throw where.error(`${prefix}${key}`, "missing");
      continue;
    }
    checkShape(item, spec.shape, where, `${prefix}${key}`);
  }
}

function expandAt(value: Json, where: Location, root: string): Json {
  try {
    return expandRepeats(value, root);
  } catch (error) {
    if (error instanceof RepeatError) throw where.error("", error.message);
    throw error;
  }
}

function checkStringList(value: unknown, where: Location, field: string): asserts value is string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) throw where.error(field, "expected a list of strings");
}

function parseExpectation(raw: Json, op: OperationName, where: Location, errorKinds: ReadonlySet<string>): Expectation {
  if (!isPlainObject(raw)) throw where.error("expect", `expected an object, got ${describe(raw)}`);
  const expect = expandAt(raw, where, "expect") as JsonObject;
  const result = OPERATIONS[op].result;
  const failing = expect.error !== undefined;

  if (failing === (expect.ok !== undefined)) throw where.error("expect", "give exactly one of ok: true or error: <kind>");
  for (const key of Object.keys(expect)) {
    const allowed = failing ? FAILURE_FIELDS : SUCCESS_FIELDS;
    if (!allowed.has(key)) throw where.error(`expect.${key}`, failing ? "not allowed with error" : "unknown field or not allowed with ok");
  }
  if (failing) {
    if (typeof expect.error !== "string" || !errorKinds.has(expect.error)) {
      throw where.error("expect.error", `expected an error kind (${[...errorKinds].join(", ")}), got ${describe(expect.error)}`);
    }
    if (expect.messageContains !== undefined && typeof expect.messageContains !== "string") {
      throw where.error("expect.messageContains", "expected a string");
    }
    return expect as Expectation;
  }

  if (expect.ok !== true) throw where.error("expect.ok", `expected true, got ${describe(expect.ok)}`);
  if ((expect.record !== undefined || expect.timestamps !== undefined) && result !== "record") {
    throw where.error(expect.record !== undefined ? "expect.record" : "expect.timestamps", `${op} returns no record`);
  }
  if (expect.record !== undefined && !isPlainObject(expect.record)) throw where.error("expect.record", "expected an object");
  if (expect.timestamps !== undefined && expect.timestamps !== "equal" && expect.timestamps !== "updatedAfterCreated") {
    throw where.error("expect.timestamps", `expected "equal" or "updatedAfterCreated", got ${describe(expect.timestamps)}`);
  }

  for (const field of ["keys", "records", "count"]) {
    if (expect[field] !== undefined && result !== "list") throw where.error(`expect.${field}`, `${op} is not a list operation`);
  }
  if (expect.keys !== undefined) checkStringList(expect.keys, where, "expect.keys");
  if (expect.records !== undefined && (!Array.isArray(expect.records) || !expect.records.every(isPlainObject))) {
    throw where.error("expect.records", "expected a list of objects");
  }
  if (expect.count !== undefined && (typeof expect.count !== "number" || !Number.isSafeInteger(expect.count) || expect.count < 0)) {
    throw where.error("expect.count", "expected a non-negative integer");
  }

  if (expect.resources !== undefined) {
    if (result !== "resources") throw where.error("expect.resources", `${op} returns no lease resources`);
    const resources = expect.resources;
    if (!Array.isArray(resources) || !resources.every((item) => isPlainObject(item) && typeof item.id === "string" && typeof item.type === "string" && Object.keys(item).length === 2)) {
      throw where.error("expect.resources", "expected a list of {id, type} strings");
    }
  }
  return expect as Expectation;
}

/** containerd can only record content it has hashed, so the case data must hash to the digest. */
function checkContentData(args: JsonObject, where: Location): void {
  if (args.data === undefined || args.data === null) return;
  const data = Buffer.from(String(args.data), "utf8");
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  if (args.digest !== digest) throw where.error("args.digest", `${JSON.stringify(args.digest)} is not the sha256 of args.data, which is ${digest}`);
  if (args.size !== data.length) throw where.error("args.size", `${JSON.stringify(args.size)} is not the UTF-8 byte length of args.data, which is ${data.length}`);
}

function parseStep(raw: Json, index: number, caseWhere: string, format: FileFormat): Step {
  let where = new Location(`${caseWhere} step ${index}`);
  if (!isPlainObject(raw)) throw where.error("", `expected a step object, got ${describe(raw)}`);
  const op = raw.op;
  if (typeof op !== "string" || !Object.hasOwn(OPERATIONS, op)) {
    throw where.error("op", `unknown operation ${describe(op)}; expected one of ${Object.keys(OPERATIONS).join(", ")}`);
  }
  const operation = op as OperationName;
  where = new Location(`${caseWhere} step ${index} (${operation})`);
  for (const key of Object.keys(raw)) {
    if (!STEP_FIELDS.has(key)) throw where.error(key, `unknown step field; expected one of ${[...STEP_FIELDS].join(", ")}`);
  }
  for (const field of ["namespace", "lease"]) {
    if (raw[field] !== undefined && typeof raw[field] !== "string") throw where.error(field, `expected a string, got ${describe(raw[field])}`);
  }
  const rawArgs = raw.args ?? {};
  if (!isPlainObject(rawArgs)) throw where.error("args", `expected an object, got ${describe(rawArgs)}`);
  const args = expandAt(rawArgs, where, "args") as JsonObject;
  checkFields(args, OPERATIONS[operation].args, where, "args");
  if (operation === "writeContent") checkContentData(args, where);

  const step: Step = { index, op: operation, args, expect: parseExpectation(raw.expect ?? null, operation, where, format.errorKinds) };
  if (typeof raw.namespace === "string") step.namespace = raw.namespace;
  if (typeof raw.lease === "string") step.lease = raw.lease;
  return step;
}

function parseCase(raw: Json, index: number, format: FileFormat): Case {
  const position = new Location(`case ${index}`);
  if (!isPlainObject(raw)) throw position.error("", `expected a case object, got ${describe(raw)}`);
  if (typeof raw.id !== "string" || raw.id === "") throw position.error("id", "expected a non-empty string");
  const caseWhere = `case ${JSON.stringify(raw.id)}`;
  const where = new Location(caseWhere);
  for (const key of Object.keys(raw)) {
    if (!format.caseFields.has(key)) throw where.error(key, `unknown case field; expected one of ${[...format.caseFields].join(", ")}`);
  }
  if (raw.rawNamespaces !== undefined && typeof raw.rawNamespaces !== "boolean") throw where.error("rawNamespaces", "expected a boolean");
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) throw where.error("steps", "expected a non-empty list of steps");
  return {
    id: raw.id,
    title: typeof raw.title === "string" ? raw.title : "",
    rawNamespaces: raw.rawNamespaces === true,
    steps: raw.steps.map((step, stepIndex) => parseStep(step, stepIndex, caseWhere, format)),
  };
}

/** Case fields and error kinds declared by the file's vocabulary, added to the built-in ones. */
interface FileFormat {
  caseFields: ReadonlySet<string>;
  errorKinds: ReadonlySet<string>;
}

function fileFormat(vocabulary: unknown): FileFormat {
  const declared = (field: string) => (isPlainObject(vocabulary) && isPlainObject(vocabulary[field]) ? Object.keys(vocabulary[field]) : []);
  const errorKinds = declared("errorKinds");
  return {
    caseFields: new Set([...CASE_FIELDS, ...declared("caseFields")]),
    errorKinds: new Set(errorKinds.length > 0 ? errorKinds : STANDARD_ERROR_KINDS),
  };
}

/** Validate a parsed cases file; `source` names it in errors. */
export function parseCasesFile(document: unknown, source: string): Case[] {
  try {
    if (!isPlainObject(document)) throw new CaseFileError("expected a JSON object with a cases list");
    const cases = document.cases;
    if (!Array.isArray(cases)) throw new CaseFileError("cases: expected a list");
    const format = fileFormat(document.vocabulary);
    const seen = new Set<string>();
    return cases.map((raw, index) => {
      const parsed = parseCase(raw as Json, index, format);
      if (seen.has(parsed.id)) throw new CaseFileError(`case ${JSON.stringify(parsed.id)}: id: used by an earlier case too`);
      seen.add(parsed.id);
      return parsed;
    });
  } catch (error) {
    if (error instanceof CaseFileError) error.message = `invalid cases file ${source}: ${error.message}`;
    throw error;
  }
}

/** Read and validate a cases file. */
export function loadCasesFile(path: string): Case[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CaseFileError(`cannot read cases file ${path}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CaseFileError(`invalid cases file ${path}: not JSON: ${(error as Error).message}`);
  }
  return parseCasesFile(document, path);
}
