import type { Logger } from "@konorkestra/sdk";
import { DEFAULT_GROUP_SETTINGS, readGroupSettings } from "@konorkestra/sdk/internal";
import type { GroupSettings } from "@konorkestra/sdk/internal";
import type { AdminMetrics } from "../metrics";
import type { ConfigBuckets } from "./config-buckets";
import type { ConfigFolder } from "./config-folder";

/** What one compaction of a group did. */
export interface CompactionReport {
  group: string;
  /** Delete tombstones purged (keys whose deletion is older than the grace period). */
  tombstones: number;
  /** Messages removed from the stream (tombstones and the history behind them). */
  messages: number;
  /** Stream bytes before minus after. */
  bytesFreed: number;
  /** Limits applied from the settings file this run (undefined: already in place). */
  applied?: { history?: number; max_bytes?: number };
  /** Why the settings file was not applied. */
  settingsError?: string;
}

export interface ConfigCompactionDeps {
  buckets: ConfigBuckets;
  folder: ConfigFolder | undefined;
  listGroups: () => Promise<string[]>;
  /** Default grace of a tombstone; a group's `tombstone_grace_ms` overrides it. */
  graceMs: number;
  /** Between runs; 0: no timer (runs only when asked). */
  intervalMs: number;
  logger: Logger;
  metrics: AdminMetrics;
  now?: () => number;
}

/**
 * Keeps each group's config stream within its settings (`history` → `max_msgs_per_subject`,
 * `max_bytes`) and purges delete tombstones older than the grace period, whose history the bucket
 * no longer needs: a deleted key's last value stays in git and in analytics' config events.
 */
export class ConfigCompaction {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CompactionReport[]> | undefined;
  private readonly now: () => number;

  constructor(private readonly d: ConfigCompactionDeps) {
    this.now = d.now ?? Date.now;
  }

  start(): void {
    if (this.d.intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((err: unknown) =>
        this.d.logger.warn(`config compaction failed: ${(err as Error).message}`),
      );
    }, this.d.intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** One run over every group (runs do not overlap: a second call shares the first). */
  runOnce(): Promise<CompactionReport[]> {
    this.running ??= this.runAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async runAll(): Promise<CompactionReport[]> {
    const out: CompactionReport[] = [];
    for (const g of await this.d.listGroups()) {
      try {
        out.push(await this.compactGroup(g));
      } catch (err) {
        this.d.logger.warn(`config compaction of ${g} failed: ${(err as Error).message}`);
      }
    }
    return out;
  }

  async compactGroup(group: string): Promise<CompactionReport> {
    const jsm = await this.d.buckets.jsm();
    const stream = this.d.buckets.streamOf(group);
    const { settings, problem: settingsError } = this.d.folder
      ? await readGroupSettings(this.d.folder.groupDir(group))
      : { settings: DEFAULT_GROUP_SETTINGS, problem: undefined };
    const before = await jsm.streams.info(stream);
    const applied = await this.applyLimits(group, settings, before.config);
    const grace = settings.tombstoneGraceMs ?? this.d.graceMs;
    const { tombstones, messages } = await this.purgeTombstones(group, grace);
    const after = await jsm.streams.info(stream);
    const report: CompactionReport = {
      group,
      tombstones,
      messages,
      bytesFreed: Math.max(0, before.state.bytes - after.state.bytes),
      ...(applied ? { applied } : {}),
      ...(settingsError ? { settingsError } : {}),
    };
    this.record(report);
    return report;
  }

  private async applyLimits(
    group: string,
    s: GroupSettings,
    config: { max_msgs_per_subject: number; max_bytes: number },
  ): Promise<CompactionReport["applied"]> {
    const history = s.history !== undefined && s.history !== config.max_msgs_per_subject;
    const bytes = s.maxBytes !== undefined && s.maxBytes !== config.max_bytes;
    if (!history && !bytes) return undefined;
    const jsm = await this.d.buckets.jsm();
    const stream = this.d.buckets.streamOf(group);
    const info = await jsm.streams.info(stream);
    await jsm.streams.update(stream, {
      ...info.config,
      ...(history ? { max_msgs_per_subject: s.history } : {}),
      ...(bytes ? { max_bytes: s.maxBytes } : {}),
    });
    return {
      ...(history ? { history: s.history } : {}),
      ...(bytes ? { max_bytes: s.maxBytes } : {}),
    };
  }

  /** Purges every key whose last message is a delete or purge marker older than `graceMs`. */
  private async purgeTombstones(
    group: string,
    graceMs: number,
  ): Promise<{ tombstones: number; messages: number }> {
    const jsm = await this.d.buckets.jsm();
    const kv = await this.d.buckets.kv(group);
    const stream = this.d.buckets.streamOf(group);
    const prefix = `$KV.${this.d.buckets.names.configBucket(group)}.`;
    const info = await jsm.streams.info(stream, { subjects_filter: `${prefix}>` });
    const cutoff = this.now() - graceMs;
    let tombstones = 0;
    let messages = 0;
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const key = subject.slice(prefix.length);
      const e = await kv.get(key);
      if (!e || e.operation === "PUT" || e.created.getTime() > cutoff) continue;
      const r = await jsm.streams.purge(stream, { filter: subject });
      tombstones++;
      messages += r.purged;
    }
    return { tombstones, messages };
  }

  private record(r: CompactionReport): void {
    this.d.metrics.compactionTombstones.inc(r.tombstones);
    this.d.metrics.compactionBytes.inc(r.bytesFreed);
    this.d.metrics.compactionRuns.inc();
    if (r.settingsError)
      this.d.logger.warn(`config settings of ${r.group} not applied: ${r.settingsError}`);
    if (r.tombstones > 0 || r.applied) {
      const limits = r.applied ? `; limits set ${JSON.stringify(r.applied)}` : "";
      this.d.logger.info(
        `config compaction ${r.group}: purged ${r.tombstones} tombstone(s), ${r.messages} message(s); ${r.bytesFreed} bytes freed${limits}`,
      );
    }
  }
}
