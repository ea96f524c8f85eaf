#!/usr/bin/env node
// Entry point: `node dist/main.js` (options from KON_* variables, see options.ts).
import { createAdmin } from "./admin-service";

async function main(): Promise<void> {
  const service = await createAdmin();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[admin] ${signal}: stopping`);
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[admin] close failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  console.error(`[admin] cannot start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
