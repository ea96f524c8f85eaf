import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { DEFAULT_MAX_VALUE_BYTES } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { AdminMetrics } from "../metrics";
import type { ResolvedAdminOptions } from "../options";
import type { AccountStore } from "../store/account-store";
import type { GroupStore } from "../store/group-store";
import { ConfigBuckets } from "./config-buckets";
import { ConfigCompaction } from "./config-compaction";
import { ConfigFolder } from "./config-folder";
import { ConfigReader } from "./config-reader";
import { ConfigWriter } from "./config-writer";
import { GitRepo } from "./git-repo";

/** The config API's parts, made once per admin instance. */
export interface ConfigApi {
  writer: ConfigWriter | undefined;
  reader: ConfigReader;
  compaction: ConfigCompaction;
  close(): void;
}

export interface ConfigApiDeps {
  nc: NatsConnection;
  names: WireNames;
  options: ResolvedAdminOptions;
  groups: GroupStore;
  accounts: AccountStore;
  logger: Logger;
  metrics: AdminMetrics;
}

/**
 * Builds the config API. Without `configDir` it can read (the buckets) and compact, but not
 * write: writes answer 503 and say what to set.
 */
export function createConfigApi(d: ConfigApiDeps): ConfigApi {
  const buckets = new ConfigBuckets(d.nc, d.names);
  const dir = d.options.configDir;
  const folder = dir ? new ConfigFolder(dir) : undefined;
  let repoP: Promise<GitRepo> | undefined;
  const repo = (root: string) => (): Promise<GitRepo> => {
    repoP ??= GitRepo.open(root);
    repoP.catch(() => (repoP = undefined));
    return repoP;
  };
  const writer = folder
    ? new ConfigWriter({
        nc: d.nc,
        buckets,
        folder,
        repo: repo(folder.root),
        groupExists: async (g) => (await d.groups.get(g)) !== undefined,
        authorOf: async (id) => {
          const a = await d.accounts.findById(id);
          return a ? `${a.email} <${a.email}>` : `${id} <${id}@admin.invalid>`;
        },
        waitMs: d.options.configWaitMs,
        horizonMs: d.options.activateHorizonMs,
        maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
        logger: d.logger,
      })
    : undefined;
  const reader = new ConfigReader(
    buckets,
    folder ?? new ConfigFolder(""),
    // Reads never create a repository; a write does (and is then shared).
    async () => (folder ? (repoP ?? GitRepo.find(folder.root)) : undefined),
  );
  const compaction = new ConfigCompaction({
    buckets,
    folder,
    listGroups: async () => (await d.groups.list()).map((g) => g.name),
    graceMs: d.options.tombstoneGraceMs,
    intervalMs: d.options.compactionIntervalMs,
    logger: d.logger,
    metrics: d.metrics,
  });
  compaction.start();
  return { writer, reader, compaction, close: () => compaction.close() };
}
