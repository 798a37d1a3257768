import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestProblem } from "../../src/domain/digest.js";
import { quote } from "../../src/domain/errors.js";
import { validateIdentifier } from "../../src/domain/identifiers.js";
import { validateLabel, validateLabels, withoutEmptyValues } from "../../src/domain/labels.js";
import { compareBytes, sortBytes } from "../../src/domain/order.js";
import { formatNanos, normalizeTimestamp, parseRfc3339, SystemClock } from "../../src/domain/time.js";

function kindOf(action: () => void): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return (error as { kind?: string }).kind ?? "thrown";
  }
}

describe("identifiers", () => {
  const valid = ["a", "nginx", "Web-01", "0912341234", "task.0.0123456789", "underscores_are_allowed", "a".repeat(76), "A_b-c.d"];
  for (const id of valid) {
    it(`accepts ${JSON.stringify(id.slice(0, 20))}`, () => assert.equal(kindOf(() => validateIdentifier(id)), undefined));
  }

  const invalid = ["-a", "a-", ".a", "a.", "a--b", "a..b", "a._b", "a__b", "a/b", "a b", "é", "a\nb", "_a", "a_", "a*", "a>"];
  for (const id of invalid) {
    it(`rejects ${JSON.stringify(id)}`, () => assert.equal(kindOf(() => validateIdentifier(id)), "InvalidArgument"));
  }

  it("empty identifier message", () => {
    assert.throws(() => validateIdentifier(""), { message: "identifier must not be empty: invalid argument" });
  });

  it("length check precedes pattern check", () => {
    const long = "-".repeat(77);
    assert.throws(() => validateIdentifier(long), {
      message: `identifier "${long}" greater than maximum length (76 characters): invalid argument`,
    });
  });

  it("pattern message names the pattern", () => {
    assert.throws(() => validateIdentifier("a..b"), {
      message: 'identifier "a..b" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument',
    });
  });
});

describe("labels", () => {
  it("accepts exactly 4096 bytes", () => assert.equal(kindOf(() => validateLabel("k", "v".repeat(4095))), undefined));
  it("rejects 4097 bytes", () => assert.equal(kindOf(() => validateLabel("k", "v".repeat(4096))), "InvalidArgument"));
  it("counts UTF-8 bytes not characters", () => {
    assert.equal(kindOf(() => validateLabel("k", "é".repeat(2047))), undefined); // 1 + 4094 bytes
    assert.equal(kindOf(() => validateLabel("k", "é".repeat(2048))), "InvalidArgument"); // 1 + 4096 bytes
  });
  it("oversized key with empty value fails", () => assert.equal(kindOf(() => validateLabel("k".repeat(4097), "")), "InvalidArgument"));
  it("empty key with a value fails", () => assert.equal(kindOf(() => validateLabel("", "v")), "InvalidArgument"));
  it("empty key and value pass", () => assert.equal(kindOf(() => validateLabel("", "")), undefined));
  it("any key characters pass", () => assert.equal(kindOf(() => validateLabel("a b/c:d\u00e9", "v")), undefined));

  it("size message names the whole short key and both sizes", () => {
    assert.throws(() => validateLabels("containers.Labels", { key: "v".repeat(5000) }), {
      message: "containers.Labels: label key and value length (5003 bytes) greater than maximum size (4096 bytes), key: key: invalid argument",
    });
  });

  it("size message cuts keys past 256 bytes", () => {
    const key = "k".repeat(5000);
    assert.throws(() => validateLabel(key, ""), (error: Error) => error.message.includes(`key: ${"k".repeat(256)}…: invalid argument`));
  });

  it("empty values are dropped", () => {
    assert.deepEqual({ ...withoutEmptyValues({ a: "1", b: "", c: "3" }) }, { a: "1", c: "3" });
  });

  it("__proto__ is an ordinary key", () => {
    const labels = withoutEmptyValues(JSON.parse('{"__proto__":"x"}') as Record<string, string>);
    assert.deepEqual(Object.keys(labels), ["__proto__"]);
    assert.equal(labels["__proto__"], "x");
  });
});

describe("digests", () => {
  const hex64 = "a".repeat(64);
  const table: Array<[string, string | undefined]> = [
    [`sha256:${hex64}`, undefined],
    [`sha384:${"b".repeat(96)}`, undefined],
    [`sha512:${"c".repeat(128)}`, undefined],
    [`sha256:${"A".repeat(64)}`, "invalid checksum digest format"],
    [`sha256:${"a".repeat(63)}`, "invalid checksum digest length"],
    [`md5:${"a".repeat(32)}`, "unsupported digest algorithm"],
    ["sha256", "invalid checksum digest format"],
    [":abc", "invalid checksum digest format"],
    ["sha256:", "invalid checksum digest format"],
    ["", "invalid checksum digest format"],
    ["SHA256:abc", "invalid checksum digest format"],
  ];
  for (const [digest, problem] of table) {
    it(`${digest.slice(0, 16) || "empty"} is ${problem ?? "valid"}`, () => assert.equal(digestProblem(digest), problem));
  }
});

describe("byte order", () => {
  it("sorts like UTF-8 bytes", () => {
    const keys = ["b", "_", "a", "B", "0", ".", "-", "\u{1F600}", "\uFF21"];
    assert.deepEqual([...keys].sort(compareBytes), ["-", ".", "0", "B", "_", "a", "b", "\uFF21", "\u{1F600}"]);
  });

  it("agrees with Buffer.compare", () => {
    const samples = ["a", "ab", "", "\u00e9", "\uFFFF", "\u{10000}", "\uE000", "z\u{1F600}", "z\uFFFD"];
    for (const a of samples) {
      for (const b of samples) {
        assert.equal(Math.sign(compareBytes(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${a} vs ${b}`);
      }
    }
  });

  it("sortBytes matches Buffer.compare", () => {
    const alphabets = ["abcXYZ019-_.", "ab\u00e9\u4e2d", "a\uE000\uFFFD\u{1F600}\u{10000}z"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (const alphabet of alphabets) {
      const characters = [...alphabet];
      const keys = Array.from({ length: 300 }, () =>
        Array.from({ length: 1 + Math.floor(next() * 6) }, () => characters[Math.floor(next() * characters.length)]).join(""),
      );
      const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(sortBytes(keys), expected, alphabet);
    }
  });
});

describe("timestamps", () => {
  it("formats nine fraction digits in UTC", () => assert.equal(formatNanos(1_796_415_095_386_984_950n), "2026-12-04T20:11:35.386984950Z"));
  it("parses offsets and short fractions", () => {
    assert.equal(normalizeTimestamp("2026-12-04T21:11:35.5+01:00"), "2026-12-04T20:11:35.500000000Z");
  });
  it("rejects non RFC 3339", () => assert.equal(parseRfc3339("yesterday"), undefined));
  it("clock never repeats", () => {
    const clock = new SystemClock();
    const values = Array.from({ length: 1000 }, () => clock.now());
    for (let i = 1; i < values.length; i++) assert.ok(values[i]! > values[i - 1]!);
  });
});

describe("quote", () => {
  it("escapes like Go %q", () => {
    assert.equal(quote('a"b\\c\n\t\x01'), '"a\\"b\\\\c\\n\\t\\x01"');
    assert.equal(quote("é"), '"é"');
  });
});
