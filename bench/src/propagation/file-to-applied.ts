import type { TestClientOptions } from "@konorkestra/testkit";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createConfigLoader } from "@konorkestra/config-loader";
import type { ConfigLoader } from "@konorkestra/config-loader";
import { Konorkestra } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { ApplyTracker } from "./apply-tracker";
import { benchConfigSchema, benchValue } from "./bench-config";
import { runRounds } from "./run-rounds";
import type { RoundPlan, RoundsOutcome } from "./run-rounds";

/** The file save case's set-up. */
export interface FileToAppliedSpec {
  readonly client: TestClientOptions;
  readonly group: string;
  readonly key: string;
  /** Scratch directory: the config root and the SDK snapshot go below it. */
  readonly dir: string;
  /** config-loader debounce; undefined keeps the loader's default. */
  readonly debounceMs: number | undefined;
  readonly logger: Logger;
}

/** What the file case measured, and the loader settings that shape it. */
export interface FileToAppliedOutcome extends RoundsOutcome {
  readonly debounceMs: number;
  readonly debounceMaxMs: number;
}

/**
 * A real config-loader (in this process, `createConfigLoader` on a scratch folder, resync off)
 * and one SDK handle. Each save is a `writeFile` of the key's JSON file; the clock runs from just
 * before the write until the handle's `onChange` ran: chokidar's event, the debounce, parse,
 * validation against the schema the handle registered, the KV put, the watch, zod, the swap.
 */
export async function measureFileToApplied(
  spec: FileToAppliedSpec,
  plan: Omit<RoundPlan, "firstVersion">,
): Promise<FileToAppliedOutcome> {
  const root = join(spec.dir, "config");
  const file = join(root, spec.group, `${spec.key}.json`);
  const save = (version: number): Promise<void> =>
    writeFile(file, JSON.stringify(benchValue(version), null, 2) + "\n");
  await mkdir(join(root, spec.group), { recursive: true });
  await save(1);
  const loader: ConfigLoader = createConfigLoader(
    {
      configDir: root,
      ...spec.client,
      port: 0,
      resyncMs: 0,
      git: false,
      ...(spec.debounceMs === undefined ? {} : { debounceMs: spec.debounceMs }),
    },
    spec.logger,
  );
  let kon: Konorkestra | undefined;
  try {
    await loader.start();
    await loader.whenReady();
    kon = await Konorkestra.connect({
      ...spec.client,
      group: spec.group,
      nodeId: "bench-file",
      service: "bench-propagation",
      snapshotDir: join(spec.dir, "snapshot"),
      logger: spec.logger,
    });
    const tracker = new ApplyTracker(1);
    const handle = await kon.config(spec.key, benchConfigSchema());
    handle.onChange((next) => tracker.applied(0, next.version));
    const outcome = await runRounds(tracker, { ...plan, firstVersion: 2 }, save);
    return {
      ...outcome,
      debounceMs: loader.options.debounceMs,
      debounceMaxMs: loader.options.debounceMaxMs,
    };
  } finally {
    await kon?.close().catch((err: unknown) => spec.logger.warn(`closing SDK: ${String(err)}`));
    await loader.stop().catch((err: unknown) => spec.logger.warn(`closing loader: ${String(err)}`));
  }
}
