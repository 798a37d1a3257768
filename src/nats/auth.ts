/**
 * NATS connection settings for authentication and reply subjects, shared by the
 * service and the client library, and the environment variables the CLI reads
 * them from.
 */
import type { Authenticator, ConnectionOptions } from "@nats-io/nats-core";

export interface NatsAuthOptions {
  /** User name for user/password authentication. */
  user?: string;
  /** Password of `user`. */
  pass?: string;
  /** nats.js authenticators, e.g. `nkeyAuthenticator(seed)` or `credsAuthenticator(creds)`. */
  authenticator?: Authenticator | Authenticator[];
  /**
   * Prefix of the reply subjects this connection subscribes to; nats.js uses `_INBOX`.
   * A user allowed to subscribe only to `_INBOX.team-a.>` needs `_INBOX.team-a`.
   */
  inboxPrefix?: string;
}

export const NATS_USER_ENV = "CTRMETA_NATS_USER";
export const NATS_PASSWORD_ENV = "CTRMETA_NATS_PASSWORD";
export const NATS_INBOX_PREFIX_ENV = "CTRMETA_NATS_INBOX_PREFIX";

/** Read the settings from CTRMETA_NATS_USER, CTRMETA_NATS_PASSWORD and CTRMETA_NATS_INBOX_PREFIX; an empty value counts as unset. */
export function natsAuthFromEnv(env: NodeJS.ProcessEnv = process.env): NatsAuthOptions {
  const options: NatsAuthOptions = {};
  if (env[NATS_USER_ENV]) options.user = env[NATS_USER_ENV];
  if (env[NATS_PASSWORD_ENV]) options.pass = env[NATS_PASSWORD_ENV];
  if (env[NATS_INBOX_PREFIX_ENV]) options.inboxPrefix = env[NATS_INBOX_PREFIX_ENV];
  return options;
}

/** Build the nats.js connection options for `auth`, leaving out what is unset. */
export function natsAuthConnectOptions(auth: NatsAuthOptions): Partial<ConnectionOptions> {
  const options: Partial<ConnectionOptions> = {};
  if (auth.user !== undefined) options.user = auth.user;
  if (auth.pass !== undefined) options.pass = auth.pass;
  if (auth.authenticator !== undefined) options.authenticator = auth.authenticator;
  if (auth.inboxPrefix !== undefined) options.inboxPrefix = auth.inboxPrefix;
  return options;
}
