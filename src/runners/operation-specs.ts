/**
 * The operations of the conformance vocabulary: the arguments each one takes and
 * the kind of result it returns. Fields inside entity objects (container, image,
 * namespace, info, resource) are optional because cases send incomplete objects on
 * purpose to probe validation.
 */
export type Shape =
  | "string"
  | "number"
  | "boolean"
  | "stringList"
  | "stringMap"
  /** A protobuf Any: `{typeUrl, value}` or `{typeUrl, valueBase64}`. */
  | "any"
  | "anyMap"
  | { [field: string]: FieldSpec };

export interface FieldSpec {
  shape: Shape;
  required: boolean;
}

/** Kind of an operation's result: nothing to compare, one record, a list, or lease resources. */
export type ResultKind = "none" | "record" | "list" | "resources";

export interface OperationSpec {
  args: Record<string, FieldSpec>;
  result: ResultKind;
}

function required(shape: Shape): FieldSpec {
  return { shape, required: true };
}

function optional(shape: Shape): FieldSpec {
  return { shape, required: false };
}

const containerShape: Shape = {
  id: optional("string"),
  labels: optional("stringMap"),
  image: optional("string"),
  runtime: optional({ name: optional("string"), options: optional("any") }),
  spec: optional("any"),
  snapshotter: optional("string"),
  snapshotKey: optional("string"),
  extensions: optional("anyMap"),
  sandbox: optional("string"),
};

const imageShape: Shape = {
  name: optional("string"),
  labels: optional("stringMap"),
  target: optional({
    mediaType: optional("string"),
    digest: optional("string"),
    size: optional("number"),
    annotations: optional("stringMap"),
  }),
};

const namespaceShape: Shape = { name: optional("string"), labels: optional("stringMap") };
const resourceShape: Shape = { id: optional("string"), type: optional("string") };
const filters = { filters: required("stringList") };
const snapshotCreate = {
  snapshotter: required("string"),
  key: required("string"),
  parent: optional("string"),
  labels: optional("stringMap"),
};

export const OPERATIONS = {
  createNamespace: { args: { namespace: required(namespaceShape) }, result: "record" },
  getNamespace: { args: { name: required("string") }, result: "record" },
  listNamespaces: { args: { filter: optional("string") }, result: "list" },
  updateNamespace: { args: { namespace: required(namespaceShape), updateMask: optional("stringList") }, result: "none" },
  deleteNamespace: { args: { name: required("string") }, result: "none" },

  createContainer: { args: { container: required(containerShape) }, result: "record" },
  getContainer: { args: { id: required("string") }, result: "record" },
  listContainers: { args: filters, result: "list" },
  updateContainer: { args: { container: required(containerShape), updateMask: optional("stringList") }, result: "record" },
  deleteContainer: { args: { id: required("string") }, result: "none" },

  createImage: { args: { image: required(imageShape), sourceDateEpoch: optional("string") }, result: "record" },
  getImage: { args: { name: required("string") }, result: "record" },
  listImages: { args: filters, result: "list" },
  updateImage: {
    args: { image: required(imageShape), updateMask: optional("stringList"), sourceDateEpoch: optional("string") },
    result: "record",
  },
  deleteImage: { args: { name: required("string"), sync: optional("boolean") }, result: "none" },

  writeContent: {
    args: { data: optional("string"), digest: required("string"), size: required("number"), labels: optional("stringMap") },
    result: "none",
  },
  contentInfo: { args: { digest: required("string") }, result: "record" },
  updateContent: {
    args: { info: required({ digest: optional("string"), labels: optional("stringMap") }), updateMask: optional("stringList") },
    result: "record",
  },
  deleteContent: { args: { digest: required("string") }, result: "none" },
  listContent: { args: filters, result: "list" },

  prepareSnapshot: { args: snapshotCreate, result: "none" },
  viewSnapshot: { args: snapshotCreate, result: "none" },
  commitSnapshot: {
    args: { snapshotter: required("string"), name: required("string"), key: required("string"), labels: optional("stringMap") },
    result: "none",
  },
  removeSnapshot: { args: { snapshotter: required("string"), key: required("string") }, result: "none" },
  statSnapshot: { args: { snapshotter: required("string"), key: required("string") }, result: "record" },
  updateSnapshot: {
    args: {
      snapshotter: required("string"),
      info: required({ name: optional("string"), labels: optional("stringMap") }),
      updateMask: optional("stringList"),
    },
    result: "record",
  },
  listSnapshots: { args: { snapshotter: required("string"), ...filters }, result: "list" },

  createLease: { args: { id: optional("string"), labels: optional("stringMap") }, result: "record" },
  deleteLease: { args: { id: required("string"), sync: optional("boolean") }, result: "none" },
  listLeases: { args: filters, result: "list" },
  addLeaseResource: { args: { id: required("string"), resource: required(resourceShape) }, result: "none" },
  deleteLeaseResource: { args: { id: required("string"), resource: required(resourceShape) }, result: "none" },
  listLeaseResources: { args: { id: required("string") }, result: "resources" },

  gc: { args: {}, result: "none" },
} satisfies Record<string, OperationSpec>;

export type OperationName = keyof typeof OPERATIONS;
