import assert from "node:assert/strict";
import { test } from "node:test";

import { InvalidArgument, type MetadataError } from "../../src/domain/errors.js";
import { ALWAYS, lookupMap, parseFilter, parseFilters, type FieldAdaptor } from "../../src/filters/filters.js";

interface TestObject {
  name?: string;
  image?: string;
  labels?: Record<string, string>;
}

/** Scalars are present when non-empty and labels when the key is stored, as in containerd's adaptors. */
function adaptorFor(object: TestObject): FieldAdaptor {
  return (fieldpath) => {
    const [head, ...rest] = fieldpath;
    if (head === "labels") {
      return lookupMap(object.labels, rest);
    }
    if (rest.length === 0 && (head === "name" || head === "image")) {
      const value = object[head] ?? "";
      return { value, present: value !== "" };
    }
    return { value: "", present: false };
  };
}

function matches(filters: readonly string[], object: TestObject): boolean {
  return parseFilters(filters).match(adaptorFor(object));
}

function parseError(filters: readonly string[]): MetadataError {
  try {
    parseFilters(filters);
  } catch (error) {
    assert.ok(error instanceof InvalidArgument, `expected InvalidArgument, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(filters)} to fail parsing`);
}

const web: TestObject = {
  name: "web",
  image: "docker.io/library/nginx:1.25",
  labels: { env: "prod", "a.b": "dotted", "app.kubernetes.io/name": "web", tier: "'prod'" },
};

interface MatchCase {
  name: string;
  filters: string[];
  object: TestObject;
  expected: boolean;
}

const matchCases: MatchCase[] = [
  { name: "empty list matches all", filters: [], object: {}, expected: true },
  { name: "empty string matches all", filters: [""], object: {}, expected: true },
  { name: "presence of stored label", filters: ["labels.env"], object: web, expected: true },
  { name: "presence of missing label", filters: ["labels.missing"], object: web, expected: false },
  { name: "presence of empty scalar", filters: ["name"], object: { name: "" }, expected: false },
  { name: "equality on equal value", filters: ["name==web"], object: web, expected: true },
  { name: "equality on other value", filters: ["name==db"], object: web, expected: false },
  { name: "equality needs field present", filters: ['name==""'], object: {}, expected: false },
  { name: "equality with empty label", filters: ['labels.k==""'], object: { labels: { k: "" } }, expected: true },
  { name: "inequality on other value", filters: ["name!=db"], object: web, expected: true },
  { name: "inequality on equal value", filters: ["name!=web"], object: web, expected: false },
  { name: "inequality matches absent field", filters: ["labels.missing!=x"], object: web, expected: true },
  { name: "inequality of absent and empty", filters: ['labels.missing!=""'], object: web, expected: false },
  { name: "regex searches unanchored", filters: ["name~=e"], object: web, expected: true },
  { name: "regex honours anchors", filters: ["name~=^e"], object: web, expected: false },
  { name: "regex empty on absent field", filters: ["labels.missing~=^$"], object: web, expected: true },
  { name: "regex dot on absent field", filters: ["labels.missing~=^."], object: web, expected: false },
  { name: "regex case-insensitive flag", filters: ["name~=(?i)^WEB$"], object: web, expected: true },
  { name: "regex dollar is end of text", filters: ["labels.v~=a$"], object: { labels: { v: "a\n" } }, expected: false },
  { name: "regex multiline flag", filters: ["labels.v~=(?m)a$"], object: { labels: { v: "a\nb" } }, expected: true },
  { name: "regex unicode class", filters: ["labels.v~=^\\pL+$"], object: { labels: { v: "café" } }, expected: true },
  { name: "slash-quoted regex", filters: ["labels.v~=/a.b/"], object: { labels: { v: "xa-by" } }, expected: true },
  { name: "slash-quoted escaped slash", filters: ["labels.v~=/a\\/b/"], object: { labels: { v: "a/b" } }, expected: true },
  { name: "pipe-quoted regex", filters: ["labels.v~=|x|"], object: { labels: { v: "axb" } }, expected: true },
  { name: "pipe-quoted escaped pipe", filters: ["labels.v~=|a\\|b|"], object: { labels: { v: "a|b" } }, expected: true },
  { name: "double-quoted regex escapes", filters: ['labels.v~="^a\\\\.b$"'], object: { labels: { v: "a.b" } }, expected: true },
  { name: "double-quoted regex escaped dot", filters: ['labels.v~="^a\\\\.b$"'], object: { labels: { v: "axb" } }, expected: false },
  { name: "unquoted regex keeps backslashes", filters: ["labels.v~=^a\\.b$"], object: { labels: { v: "axb" } }, expected: false },
  { name: "invalid regex matches nothing", filters: ["labels.missing~=["], object: web, expected: false },
  { name: "invalid regex with inequality", filters: ["labels.missing~=(", "name!=db"], object: web, expected: true },
  { name: "backreference matches nothing", filters: ["labels.v~=(a)\\1"], object: { labels: { v: "aa" } }, expected: false },
  { name: "lookahead matches nothing", filters: ["labels.v~=a(?=b)"], object: { labels: { v: "ab" } }, expected: false },
  { name: "lookbehind matches nothing", filters: ["labels.v~=(?<=a)b"], object: { labels: { v: "ab" } }, expected: false },
  { name: "angle named group matches nothing", filters: ["labels.v~=(?<n>a)"], object: { labels: { v: "a" } }, expected: false },
  { name: "escaped angle group compiles", filters: ["labels.v~=\\(?<"], object: { labels: { v: "<" } }, expected: true },
  { name: "angle group in class compiles", filters: ["labels.v~=[(?<]"], object: { labels: { v: "<" } }, expected: true },
  { name: "angle group in literal compiles", filters: ["labels.v~=\\Q(?<\\E"], object: { labels: { v: "(?<" } }, expected: true },
  { name: "P named group compiles", filters: ["labels.v~=(?P<n>a)"], object: { labels: { v: "a" } }, expected: true },
  { name: "selectors joined by AND", filters: ["name==web,labels.env==prod"], object: web, expected: true },
  { name: "AND fails on one selector", filters: ["name==web,labels.env==dev"], object: web, expected: false },
  { name: "strings joined by OR", filters: ["name==db", "labels.env==prod"], object: web, expected: true },
  { name: "OR fails when none match", filters: ["name==db", "labels.env==dev"], object: web, expected: false },
  { name: "empty string in OR list", filters: ["name==db", ""], object: web, expected: true },
  {
    name: "quoted label key with slash",
    filters: ['labels."app.kubernetes.io/name"==web'],
    object: web,
    expected: true,
  },
  { name: "single quotes are literal", filters: ["labels.tier=='prod'"], object: web, expected: true },
  { name: "single quotes not stripped", filters: ["labels.env=='prod'"], object: web, expected: false },
  { name: "value containing slashes", filters: ["image==docker.io/library/nginx:1.25"], object: web, expected: true },
  { name: "dotted path joins label key", filters: ["labels.a.b==dotted"], object: web, expected: true },
  { name: "bare labels uses empty key", filters: ["labels"], object: { labels: { "": "x" } }, expected: true },
  { name: "bare labels without empty key", filters: ["labels"], object: web, expected: false },
  { name: "quoted field name", filters: ['"name"==web'], object: web, expected: true },
  { name: "whitespace around operator", filters: ["labels.env == prod, image"], object: web, expected: true },
  { name: "whitespace after comma", filters: ["name==web,   labels.env"], object: web, expected: true },
  { name: "leading whitespace skipped", filters: ["  name==web"], object: web, expected: true },
  { name: "whitespace after dot skipped", filters: ["labels. env==prod"], object: web, expected: true },
  { name: "operator characters inside value", filters: ["labels.v==a=b~c!d"], object: { labels: { v: "a=b~c!d" } }, expected: true },
  { name: "unquoted value without escapes", filters: ["labels.v==a\\nb"], object: { labels: { v: "a\\nb" } }, expected: true },
  { name: "unquoted value with unicode", filters: ["labels.v==café"], object: { labels: { v: "café" } }, expected: true },
  { name: "value starting with quote", filters: ["labels.v=='x"], object: { labels: { v: "'x" } }, expected: true },
];

for (const { name, filters, object, expected } of matchCases) {
  test(`filter match: ${name}`, () => {
    assert.equal(matches(filters, object), expected);
  });
}

interface EscapeCase {
  name: string;
  quoted: string;
  decoded: string;
}

const escapeCases: EscapeCase[] = [
  { name: "escaped backslash", quoted: '"a\\\\b"', decoded: "a\\b" },
  { name: "escaped double quote", quoted: '"a\\"b"', decoded: 'a"b' },
  { name: "control character escapes", quoted: '"\\a\\b\\f\\n\\r\\t\\v"', decoded: "\x07\b\f\n\r\t\v" },
  { name: "hex byte escape", quoted: '"\\x41"', decoded: "A" },
  { name: "hex bytes forming UTF-8", quoted: '"\\xc3\\xa9"', decoded: "é" },
  { name: "octal byte escape", quoted: '"\\101"', decoded: "A" },
  { name: "octal bytes forming UTF-8", quoted: '"\\303\\251"', decoded: "é" },
  { name: "four-digit unicode escape", quoted: '"\\u00e9"', decoded: "é" },
  { name: "eight-digit unicode escape", quoted: '"\\U0001F600"', decoded: "😀" },
  { name: "surrogate escape becomes U+FFFD", quoted: '"\\ud800"', decoded: "\ufffd" },
  { name: "raw tab inside quotes", quoted: '"a\tb"', decoded: "a\tb" },
  { name: "comma and space inside quotes", quoted: '"a, b"', decoded: "a, b" },
  { name: "single quote inside quotes", quoted: "\"it's\"", decoded: "it's" },
];

for (const { name, quoted, decoded } of escapeCases) {
  test(`quoted value: ${name}`, () => {
    const object = { labels: { v: decoded } };
    assert.equal(matches([`labels.v==${quoted}`], object), true);
    assert.equal(matches([`labels.v!=${quoted}`], object), false);
  });
}

test("quoted value: invalid UTF-8 never equal", () => {
  const object = { labels: { v: "\ufffd" } };
  assert.equal(matches(['labels.v=="\\xff"'], object), false);
  assert.equal(matches(['labels.v!="\\xff"'], object), true);
  assert.equal(matches(['labels.v~="\\xff"'], object), false);
});

interface ErrorCase {
  name: string;
  filters: string[];
  /** Full message, as containerd v1.7.9 formats it. */
  message: string;
}

const PREFIX = "filters: parse error: ";
const SUFFIX = ": invalid argument";
const EXPECTED_OPERATOR = 'expected an operator ("=="|"!="|"~=")';

const errorCases: ErrorCase[] = [
  { name: "missing value", filters: ["name=="], message: "[name==]: expected value or quoted" },
  { name: "missing value after space", filters: ["name == "], message: "[name == ]: expected value or quoted" },
  { name: "trailing comma", filters: ["name==web,"], message: "[name==web,]: expected field or quoted" },
  { name: "trailing dot", filters: ["labels."], message: "[labels.]: expected field or quoted" },
  { name: "leading comma", filters: [",name"], message: "[ >|,|< name]: expected field or quoted" },
  { name: "whitespace-only string", filters: [" "], message: "[ ]: expected field or quoted" },
  { name: "triple equals operator", filters: ["name===web"], message: '[name >|=|< ==web]: unsupported operator "==="' },
  { name: "single equals operator", filters: ["name=web"], message: '[name >|=|< web]: unsupported operator "="' },
  { name: "less-than operator", filters: ["name<web"], message: `[name >|<|< web]: ${EXPECTED_OPERATOR}` },
  { name: "slash inside field", filters: ["labels.ns/key==v"], message: "[labels.ns >|/|< key==v]: quoted literal not terminated" },
  { name: "value starting with slash", filters: ["labels.key==/v"], message: "[labels.key== >|/|< v]: quoted literal not terminated" },
  { name: "slash quotes for equality", filters: ["labels.key==/v/"], message: "[labels.key== >|/|< v/]: invalid quote encountered" },
  { name: "pipe quotes for equality", filters: ["name==|web|"], message: "[name== >|||< web|]: invalid quote encountered" },
  { name: "pipe quotes for inequality", filters: ["name!=|web|"], message: "[name!= >|||< web|]: invalid quote encountered" },
  { name: "slash quotes for field", filters: ["labels./k/"], message: "[labels. >|/|< k/]: invalid quote encountered" },
  { name: "space after value", filters: ["name==web "], message: "[name==web >| |< ]: unexpected input:  " },
  { name: "space before comma", filters: ["name==web ,image"], message: "[name==web >| |< ,image]: unexpected input:  " },
  { name: "space after presence selector", filters: ["labels.env "], message: `[labels.env ]: ${EXPECTED_OPERATOR}` },
  { name: "presence selector then comma", filters: ["labels.env ,name"], message: `[labels.env  >|,|< name]: ${EXPECTED_OPERATOR}` },
  { name: "value starting with dot", filters: ["name==.x"], message: "[name== >|.|< x]: expected value or quoted" },
  { name: "value starting with comma", filters: ["name==,x"], message: "[name== >|,|< x]: expected value or quoted" },
  { name: "value starting with bang", filters: ["name== !x"], message: "[name==  >|!|< x]: expected value or quoted" },
  { name: "bang joins the operator", filters: ["name==!x"], message: '[name >|=|< =!x]: unsupported operator "==!"' },
  { name: "text after quoted value", filters: ['name=="a"b'], message: '[name=="a" >|b|< ]: unexpected input: b' },
  { name: "single-quoted field", filters: ["labels.'env'"], message: "[labels. >|'|< env']: expected field or quoted" },
  { name: "unknown escape in quotes", filters: ['name=="a\\.b"'], message: '[name== >|"|< a\\.b"]: illegal escape sequence' },
  { name: "escaped single quote", filters: ['name=="a\\\'b"'], message: '[name== >|"|< a\\\'b"]: illegal escape sequence' },
  { name: "foreign delimiter escape", filters: ['name~=/a\\"b/'], message: '[name~= >|/|< a\\"b/]: illegal escape sequence' },
  { name: "short hex escape", filters: ['name=="\\x4"'], message: '[name== >|"|< \\x4"]: illegal numeric escape sequence' },
  { name: "octal escape above 255", filters: ['name=="\\400"'], message: '[name== >|"|< \\400"]: unquoting failed: quote syntax error' },
  {
    name: "code point above maximum",
    filters: ['name=="\\U00110000"'],
    message: '[name== >|"|< \\U00110000"]: unquoting failed: quote syntax error',
  },
  { name: "unterminated double quote", filters: ['name=="abc'], message: '[name== >|"|< abc]: quoted literal not terminated' },
  { name: "newline inside quotes", filters: ['name=="a\nb"'], message: '[name== >|"|< a\nb"]: quoted literal not terminated' },
  { name: "null character", filters: ["name\0"], message: "[name >|\0|< ]: unexpected null" },
  { name: "null character after value", filters: ["name==a\0"], message: "[name==a >|\0|< ]: unexpected input: \ufffd" },
  { name: "replacement character", filters: ["\ufffd"], message: "[ >|\ufffd|< ]: rune error" },
  { name: "non-ASCII field character", filters: ["é==x"], message: "[ >|é|< ==x]: expected field or quoted" },
  { name: "one bad string among good", filters: ["name==web", "name=="], message: "[name==]: expected value or quoted" },
  { name: "bad string after empty", filters: ["", "name<web"], message: `[name >|<|< web]: ${EXPECTED_OPERATOR}` },
];

for (const { name, filters, message } of errorCases) {
  test(`parse error: ${name}`, () => {
    const error = parseError(filters);
    assert.equal(error.kind, "InvalidArgument");
    assert.ok(error.message.startsWith(PREFIX), error.message);
    assert.equal(error.message, `${PREFIX}${message}${SUFFIX}`);
  });
}

test("parseFilter throws InvalidArgument", () => {
  assert.throws(
    () => parseFilter("name=="),
    (error: unknown) => error instanceof InvalidArgument && error.kind === "InvalidArgument",
  );
});

test("parseFilter ANDs its selectors", () => {
  const filter = parseFilter("name==web,labels.env==prod");
  assert.equal(filter.match(adaptorFor(web)), true);
  assert.equal(filter.match(adaptorFor({ name: "web" })), false);
});

test("empty inputs return ALWAYS", () => {
  assert.equal(parseFilters([]), ALWAYS);
  assert.equal(parseFilter(""), ALWAYS);
  assert.equal(ALWAYS.match(adaptorFor({})), true);
});

test("adaptor receives parsed fieldpath", () => {
  const seen: (readonly string[])[] = [];
  const adaptor: FieldAdaptor = (fieldpath) => {
    seen.push([...fieldpath]);
    return { value: "", present: true };
  };
  parseFilters(['labels."a.b".c,x.y_1.2']).match(adaptor);
  assert.deepEqual(seen, [
    ["labels", "a.b", "c"],
    ["x", "y_1", "2"],
  ]);
});

test("regex compiled at parse time", () => {
  const filter = parseFilters(["labels.v~=^a+$"]);
  assert.equal(filter.match(adaptorFor({ labels: { v: "aaa" } })), true);
  assert.equal(filter.match(adaptorFor({ labels: { v: "aab" } })), false);
  assert.equal(filter.match(adaptorFor({ labels: { v: "a" } })), true);
});

test("lookupMap joins key with dots", () => {
  assert.deepEqual(lookupMap({ "a.b": "x" }, ["a", "b"]), { value: "x", present: true });
  assert.deepEqual(lookupMap({ "": "e" }, []), { value: "e", present: true });
  assert.deepEqual(lookupMap({ a: "x" }, ["b"]), { value: "", present: false });
  assert.deepEqual(lookupMap(undefined, ["a"]), { value: "", present: false });
});

test("lookupMap ignores inherited keys", () => {
  assert.deepEqual(lookupMap({}, ["toString"]), { value: "", present: false });
  assert.deepEqual(lookupMap({}, ["__proto__"]), { value: "", present: false });
});
