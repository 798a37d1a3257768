/**
 * The realistic container record of the benchmarks: the spec and labels of
 * container `web-1` from test/data/fixtures/containers.json, recorded from
 * containerd 1.6.20 (an OCI runtime spec of 2855 bytes of JSON, and seven labels).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root: the parent of the compiled output directory (dist, dist-bench, ...). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

interface FixtureContainer {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string };
  spec: { type_url: string; value: unknown };
  snapshotter: string;
  snapshot_key: string;
}

export interface ContainerBody {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string };
  spec: { typeUrl: string; value: unknown };
  snapshotter: string;
  snapshotKey: string;
}

function loadTemplate(): FixtureContainer {
  const path = `${REPO_ROOT}test/data/fixtures/containers.json`;
  const fixtures = JSON.parse(readFileSync(path, "utf8")) as { items: FixtureContainer[] };
  const template = fixtures.items.find((item) => item.id === "web-1");
  if (!template) throw new Error(`${path} has no container web-1, the benchmarks' template`);
  return template;
}

const TEMPLATE = loadTemplate();

/** Bytes of the template's spec as compact JSON, the payload of an Any on the wire. */
export const SPEC_BYTES = Buffer.byteLength(JSON.stringify(TEMPLATE.spec.value));

/** Label that puts every container into one of `GROUPS` groups, for filtered lists. */
export const GROUP_LABEL = "bench.group";
export const GROUPS = 10;

/**
 * Container `id` with the template's spec and seven labels: six of the template's
 * and the group label (`g0` to `g9` by `index`), so a filter on one group matches
 * a tenth of the containers.
 */
export function containerBody(id: string, index = 0): ContainerBody {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(TEMPLATE.labels).slice(0, 6)) labels[key] = value;
  labels[GROUP_LABEL] = `g${index % GROUPS}`;
  return {
    id,
    labels,
    image: TEMPLATE.image || "docker.io/library/busybox:latest",
    runtime: { name: TEMPLATE.runtime.name },
    spec: { typeUrl: TEMPLATE.spec.type_url, value: TEMPLATE.spec.value },
    snapshotter: TEMPLATE.snapshotter,
    snapshotKey: id,
  };
}

/** Return the list filter that matches one group: a tenth of the containers. */
export function groupFilter(group: number): string {
  return `labels."${GROUP_LABEL}"==g${group}`;
}
