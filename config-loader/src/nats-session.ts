import { jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectService,
  describeServers,
  serviceInboxPrefix,
  natsAuthOf,
  ensureSchemasBucket,
  ensureStreams,
  watchConnection,
} from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { ResolvedLoaderOptions } from "./options";

/** A ready connection: streams ensured, schemas bucket open. */
export interface NatsSession {
  nc: NatsConnection;
  schemas: KV;
}

/** Callbacks of {@link connectWithRetry}. */
export interface SessionEvents {
  onReady(session: NatsSession): void;
  /** Connection lost (`false`) or regained (`true`) after the first connect. */
  onConnectionChange(connected: boolean): void;
}

/**
 * Connects (as `kon:config-loader:<loader id>`), retrying with backoff until it works or
 * `isStopped()` (the loader serves /healthz meanwhile, 503). After that the client reconnects by
 * itself forever; status changes are reported so the loader can mark itself unhealthy and
 * reconcile after a reconnect.
 */
export async function connectWithRetry(
  opts: ResolvedLoaderOptions,
  names: WireNames,
  logger: Logger,
  events: SessionEvents,
  isStopped: () => boolean,
): Promise<void> {
  let delay = 250;
  let lastError = "";
  while (!isStopped()) {
    let nc: NatsConnection | undefined;
    try {
      nc = await connectService({
        servers: opts.servers,
        role: "config-loader",
        inboxPrefix: serviceInboxPrefix(names, "config-loader"),
        // The default id already starts with the role, which the connection name carries.
        id: opts.loaderId.replace(/^config-loader:/, ""),
        ...natsAuthOf(opts),
      });
      await ensureStreams(await jetstreamManager(nc), names, { replicas: opts.replicas });
      const schemas = await ensureSchemasBucket(nc, names, opts.replicas);
      if (isStopped()) {
        await nc.close();
        return;
      }
      watchConnection(nc, (up) => events.onConnectionChange(up));
      events.onReady({ nc, schemas });
      return;
    } catch (err) {
      if (String(err) !== lastError) {
        lastError = String(err);
        logger.warn(`NATS at ${describeServers(opts.servers)} not ready (retrying): ${lastError}`);
      }
      await nc?.close().catch(() => undefined);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
