import type { NatsConnection } from "@nats-io/transport-node";
import type { AppliedRegistry } from "../applied-registry";
import type { Logger } from "../logger";
import type { WireNames } from "../wire/names";
import type { ResolvedOptions } from "../options/konorkestra-options";

/**
 * What the config plane needs from `Konorkestra` (which satisfies it as is). An interface, so
 * that the config modules never import the class that imports them.
 */
export interface ConfigHost {
  readonly options: ResolvedOptions;
  readonly group: string;
  readonly nodeId: string;
  readonly names: WireNames;
  readonly logger: Logger;
  readonly applied: AppliedRegistry;
  readonly online: boolean;
  readonly closed: boolean;
  nats(): Promise<NatsConnection>;
  onClose(hook: () => Promise<void> | void): void;
}
