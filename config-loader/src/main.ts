#!/usr/bin/env node
// Entry point of the config-loader service: options from KON_* variables (see options.ts),
// graceful stop on SIGTERM/SIGINT.
import { createConfigLoader } from "./config-loader";

async function main(): Promise<void> {
  const loader = createConfigLoader();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    loader.logger.info(`${signal}: stopping`);
    loader.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        loader.logger.error(`stop failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  await loader.start();
}

main().catch((err: unknown) => {
  console.error(
    `[config-loader] cannot start: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
