/**
 * The labels garbage collection interprets, as containerd v1.7.9 reads them in
 * `metadata/gc.go`: reference labels (edges), `gc.root`, `gc.expire` and `gc.flat`.
 */
import type { StringMap } from "../domain/labels.js";
import { parseRfc3339 } from "../domain/time.js";

/** Label that makes a content or snapshot record a root. Any non-empty value counts, even `false`. */
export const LABEL_GC_ROOT = "containerd.io/gc.root";
/** Label with the RFC 3339 time after which a lease stops being a root. */
export const LABEL_GC_EXPIRE = "containerd.io/gc.expire";
/** Label that makes a lease's resources flat roots, whose reference labels are not followed. */
export const LABEL_GC_FLAT = "containerd.io/gc.flat";

/** Reference key prefix. The exact key counts, or the key followed by `.` or `/` and any name. */
const CONTENT_REFERENCE = "containerd.io/gc.ref.content";
/** Reference key prefix, followed by the snapshotter name and optionally by `/` and any name. */
const SNAPSHOT_REFERENCE = "containerd.io/gc.ref.snapshot.";

/** Receiver of the edges found in a label map. */
export interface ReferenceVisitor {
  content(digest: string): void;
  snapshot(snapshotter: string, key: string): void;
}

/**
 * Report every reference label in `labels` to `visitor`. A content key that
 * continues with anything but `.` or `/` (such as `…gc.ref.contentbad`) is not a
 * reference. A snapshot key keeps only the text up to the first `/` after the
 * prefix as the snapshotter, which may therefore be empty.
 */
export function visitReferences(labels: Readonly<StringMap>, visitor: ReferenceVisitor): void {
  for (const key of Object.keys(labels)) {
    if (key.startsWith(CONTENT_REFERENCE)) {
      if (isContentReferenceKey(key)) visitor.content(labels[key]!);
    } else if (key.startsWith(SNAPSHOT_REFERENCE)) {
      const name = key.slice(SNAPSHOT_REFERENCE.length);
      const slash = name.indexOf("/");
      visitor.snapshot(slash < 0 ? name : name.slice(0, slash), labels[key]!);
    }
  }
}

function isContentReferenceKey(key: string): boolean {
  if (key.length === CONTENT_REFERENCE.length) return true;
  const next = key[CONTENT_REFERENCE.length];
  return next === "." || next === "/";
}

/** Return whether the labels carry `containerd.io/gc.root` with a non-empty value. */
export function hasRootLabel(labels: Readonly<StringMap>): boolean {
  return isSet(labels, LABEL_GC_ROOT);
}

/** Return whether a lease's labels make its resources flat roots. */
export function hasFlatLabel(labels: Readonly<StringMap>): boolean {
  return isSet(labels, LABEL_GC_FLAT);
}

/**
 * Return whether a lease has expired at `now` (nanoseconds since the Unix epoch): its
 * `containerd.io/gc.expire` parses as RFC 3339 and is strictly before `now`. A
 * missing or unparsable value never expires, as in containerd, which logs and
 * ignores it.
 *
 * NOTE: `parseRfc3339` and Go's `time.Parse(time.RFC3339, …)` disagree on edge
 * cases. Go rejects day 30 of February and a lowercase `t` or `z`, and accepts more
 * than nine fraction digits or a comma before them, so such leases expire differently.
 */
export function isLeaseExpired(labels: Readonly<StringMap>, now: bigint): boolean {
  if (!isSet(labels, LABEL_GC_EXPIRE)) return false;
  const expiry = parseRfc3339(labels[LABEL_GC_EXPIRE]!);
  return expiry !== undefined && expiry < now;
}

function isSet(labels: Readonly<StringMap>, key: string): boolean {
  return Object.hasOwn(labels, key) && labels[key] !== "";
}

/**
 * Split a snapshot reference the way containerd does. containerd names a snapshot
 * node `<snapshotter>/<key>` and cuts that string at its first `/`, so a container
 * whose snapshotter is `a/b` with key `c` refers to snapshotter `a`, key `b/c`.
 * Names without `/` pass through unchanged.
 *
 * NOTE: a snapshot record stored under a snapshotter name that contains `/` can
 * never be marked. A lease resource type cannot name such a snapshotter, and the
 * default configured names (`overlayfs`, `native`) contain none.
 */
export function splitSnapshotReference(snapshotter: string, key: string): [snapshotter: string, key: string] {
  const slash = snapshotter.indexOf("/");
  if (slash < 0) return [snapshotter, key];
  return [snapshotter.slice(0, slash), `${snapshotter.slice(slash + 1)}/${key}`];
}
