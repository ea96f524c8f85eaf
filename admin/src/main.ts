#!/usr/bin/env node
// Entry point: `node dist/main.js` (options from KON_* variables, see options.ts).
import { envString } from "@konorkestra/sdk/internal";
import { createAdmin } from "./admin-service";
import { calloutExtension } from "./callout/callout-extension";
import { joinKeyServiceExtension } from "./callout/join-key-service";

async function main(): Promise<void> {
  // The auth callout runs when the server trusts this admin as its issuer (make up sets both).
  const issuerSeedFile = envString(process.env, "KON_CALLOUT_ISSUER_SEED_FILE");
  const systemSeedFile = envString(process.env, "KON_NATS_SYSTEM_SEED_FILE");
  const service = await createAdmin({
    extensions: [
      joinKeyServiceExtension(), // the monitor's HTTP ingest checks join keys through it
      ...(issuerSeedFile ? [calloutExtension({ issuerSeedFile, systemSeedFile })] : []),
    ],
  });
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
