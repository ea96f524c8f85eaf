#!/usr/bin/env node
// Entry point: `node dist/main.js` (options from KON_* variables, see options.ts).
import { createAnalytics } from "./analytics-service";
import { redactSecrets } from "./failure-text";

async function main(): Promise<void> {
  const service = await createAnalytics();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[analytics] ${signal}: stopping`);
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[analytics] close failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  console.error(
    `[analytics] cannot start: ${redactSecrets(err instanceof Error ? err.message : String(err))}`,
  );
  process.exit(1);
});
