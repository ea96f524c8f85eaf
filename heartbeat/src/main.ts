// Entry point of the liveness monitor: options from KON_* variables, graceful stop on SIGTERM/SIGINT.
import { KonError } from "@konorkestra/sdk";
import { createMonitor } from "./monitor";

async function main(): Promise<void> {
  const monitor = await createMonitor();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[konorkestra] monitor: ${signal}, stopping`);
    monitor.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[konorkestra] monitor: stop failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  const msg = err instanceof KonError ? `${err.code}: ${err.message}` : String(err);
  console.error(`[konorkestra] monitor failed to start: ${msg}`);
  process.exit(1);
});
