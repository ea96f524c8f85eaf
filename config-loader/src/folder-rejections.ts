import type { Logger } from "@konorkestra/sdk";
import { groupNameProblem } from "@konorkestra/sdk/internal";
import { rejectedEvent } from "./config-events";
import type { ConfigStore } from "./config-store";
import type { RejectionLog } from "./rejection-log";

/** A folder under the config root that cannot be a group. */
export interface BadFolder {
  name: string;
  reason: string;
}

/**
 * The group a misnamed folder was most likely meant to be (`Payments` → `payments`,
 * `my_team` → `my-team`), or undefined when no valid name is near.
 */
export function intendedGroup(name: string): string | undefined {
  const guess = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63);
  return guess && !groupNameProblem(guess) ? guess : undefined;
}

/**
 * Reports folders that cannot be groups the moment they are seen, like a refused file: logged
 * once, counted, and announced as `config.rejected` (key "", source path `<folder>/`, code
 * `name`) on the group the folder was most likely meant to be, where its author looks. A folder
 * with no such group is logged and counted only (an event needs a valid group in its subject).
 */
export class FolderRejections {
  private readonly reported = new Set<string>();

  constructor(
    private readonly store: () => ConfigStore | undefined,
    private readonly log: RejectionLog,
    private readonly logger: Logger,
    private readonly count: (code: string) => void,
  ) {}

  /** `complete`: `folders` are all the bad folders there are (a full scan); others are forgotten. */
  async report(folders: readonly BadFolder[], complete: boolean): Promise<void> {
    for (const f of folders) await this.one(f);
    if (!complete) return;
    const present = new Set(folders.map((f) => f.name));
    for (const name of [...this.reported]) {
      if (present.has(name)) continue;
      this.reported.delete(name);
      this.log.settle(name, new Set());
    }
  }

  private async one(f: BadFolder): Promise<void> {
    const sourcePath = `${f.name}/`;
    const target = intendedGroup(f.name);
    const reason =
      `folder ${JSON.stringify(f.name)} is not a valid group name: ${f.reason}` +
      (target ? `; rename it to ${JSON.stringify(target)}` : "");
    const fingerprint = `folder:${reason}`;
    this.reported.add(f.name);
    if (this.log.firstLog(sourcePath, fingerprint)) {
      this.logger.warn(`rejected ${sourcePath}: ${reason} [name]; nothing in it is published`);
      this.count("name");
    }
    const store = this.store();
    if (!target || !store || !this.log.needsEvent(sourcePath, fingerprint)) return;
    const event = rejectedEvent({
      group: target,
      key: "",
      sourcePath,
      fingerprint,
      currentRevision: 0,
      problem: { code: "name", reason, line: 0, column: 0 },
      atMs: Date.now(),
    });
    try {
      await store.publishEvents(target, [event]);
      this.log.markAnnounced(sourcePath, fingerprint);
    } catch (err) {
      this.logger.warn(`could not announce the rejection of ${sourcePath}: ${String(err)}`);
    }
  }
}
