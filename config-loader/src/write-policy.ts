import type { Logger } from "@konorkestra/sdk";
import { readGroupSettings } from "./group-settings";
import type { Consistency, GroupSettings } from "./group-settings";
import { readWriteIntent } from "./write-intents";

/** How one key's new content is published. */
export interface KeyPolicy {
  consistency: Consistency;
  /** 0: current as soon as nodes see it. */
  activateAtMs: number;
  /** The intent's author (`ConfigEntry.published_by`), when an intent applies. */
  author?: string;
}

/** The policies of one pass over a group. */
export interface GroupPolicy {
  settings: GroupSettings;
  of(key: string): KeyPolicy;
}

/**
 * Decides, per key about to be published, its consistency and activation instant: the write
 * intent of that content if there is one (`.kon/intents/<key>.json`, matched by sha256), else the
 * folder's defaults (`.kon/settings.yaml`). Unusable files are logged once and ignored.
 */
export class WritePolicies {
  private readonly logged = new Set<string>();

  constructor(private readonly logger: Logger) {}

  async resolve(
    group: string,
    groupDir: string | undefined,
    puts: readonly { key: string; sha256: string }[],
  ): Promise<GroupPolicy> {
    if (!groupDir) {
      const { settings } = await readGroupSettings("/nonexistent");
      return { settings, of: () => ({ consistency: settings.consistency, activateAtMs: 0 }) };
    }
    const reading = await readGroupSettings(groupDir);
    if (reading.problem) this.warnOnce(`group ${group}: ${reading.problem}`);
    const settings = reading.settings;
    const byKey = new Map<string, KeyPolicy>();
    await Promise.all(
      puts.map(async ({ key, sha256 }) => {
        const r = await readWriteIntent(groupDir, key, sha256);
        if (r.kind === "invalid")
          this.warnOnce(`group ${group}: ignoring write intent ${r.problem}`);
        if (r.kind !== "intent") return;
        byKey.set(key, {
          consistency: r.intent.consistency ?? settings.consistency,
          activateAtMs: r.intent.activateAtMs ?? 0,
          author: r.intent.author,
        });
      }),
    );
    const fallback: KeyPolicy = { consistency: settings.consistency, activateAtMs: 0 };
    return { settings, of: (key) => byKey.get(key) ?? fallback };
  }

  private warnOnce(msg: string): void {
    if (this.logged.has(msg)) return;
    if (this.logged.size > 1000) this.logged.clear();
    this.logged.add(msg);
    this.logger.warn(msg);
  }
}
