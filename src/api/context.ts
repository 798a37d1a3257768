/**
 * What every API method receives: the resolved request context and the parts of
 * the service it may use.
 */
import type { Clock } from "../domain/time.js";
import { FailedPrecondition, MetadataError } from "../domain/errors.js";
import { validateIdentifier } from "../domain/identifiers.js";
import type { AsOfViews } from "../projections/as-of.js";
import type { Commands } from "./limits.js";
import type { RequestMetrics } from "./metrics.js";
import type { Projection } from "../projections/projection.js";
import type { Body } from "./wire.js";

export interface RequestContext {
  /** Namespace of the request: header `containerd-namespace` or the subject token; "" when none. */
  namespace: string;
  /** Lease of the request (header `containerd-lease`), if any. */
  lease?: string;
  requestId: string;
}

export interface ServiceDeps {
  commands: Commands;
  projection: Projection;
  /** Snapshotter names the service accepts. */
  snapshotters: ReadonlySet<string>;
  clock: Clock;
  /** The elected garbage collector, wherever it runs. */
  gc?: GcAccess;
  /** Views of the past, for reads with `Ctrmeta-At`. */
  asOf?: AsOfViews;
  /** Request counters of this instance. */
  metrics?: RequestMetrics;
  /** This instance's and the cluster's status, for the status service. */
  status?: StatusSource;
}

/** Where the status service gets its data. */
export interface StatusSource {
  /** This instance alone. */
  instance(): Promise<Body>;
  /** The log, the consumers, every instance that answers, and the collector. */
  cluster(): Promise<Body>;
}

/** Requests to the elected garbage collector, wherever it runs. */
export interface GcAccess {
  /** Run a collection that starts after this call and return its stats. */
  collect(): Promise<Body>;
  status(): Promise<Body>;
}

export interface MethodResult {
  body: Body;
  /**
   * A list reply, sent as `{[field]: items}`: in one message, or in chunks when
   * the request asks for them. `body` is ignored when this is set.
   */
  list?: { field: string; items: Body[] };
  /** Log sequence the reply reflects. */
  revision?: number;
}

export type Method = (context: RequestContext, body: Body, deps: ServiceDeps) => Promise<MethodResult> | MethodResult;

/** service name → method name → implementation. */
export type MethodTable = Record<string, Record<string, Method>>;

/**
 * Check the request's namespace as containerd does before any other validation:
 * missing is FailedPrecondition, invalid is InvalidArgument.
 */
export function requireNamespace(context: RequestContext): string {
  if (context.namespace === "") throw new FailedPrecondition("namespace is required");
  try {
    validateIdentifier(context.namespace);
  } catch (error) {
    throw (error as MetadataError).wrap("namespace validation");
  }
  return context.namespace;
}
