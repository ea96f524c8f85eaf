import { Konorkestra } from "@konorkestra/sdk";
import { envNumber } from "@konorkestra/sdk/internal";

/** A started example service: its HTTP port and how to stop it. */
export interface RunningService {
  port: number;
  close(): Promise<void>;
}

/**
 * Runs one example service as a process: connects (KON_* env), sends heartbeats, starts the
 * service on KON_SERVICE_PORT, and on SIGTERM/SIGINT stops it and leaves cleanly (the final
 * heartbeat says "leaving", so the monitor records a clean leave, not a failure).
 */
export function runServiceMain(
  service: string,
  defaultPort: number,
  start: (kon: Konorkestra, port: number) => Promise<RunningService>,
): void {
  const main = async (): Promise<void> => {
    const port = envNumber(process.env, "KON_SERVICE_PORT") ?? defaultPort;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`invalid KON_SERVICE_PORT ${JSON.stringify(process.env.KON_SERVICE_PORT)}`);
    }
    const kon = await Konorkestra.connect({ service });
    kon.heartbeat();
    const running = await start(kon, port);
    kon.logger.info(
      `${service} (node ${kon.nodeId}, group ${kon.group}) listening on 127.0.0.1:${running.port}`,
    );
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      kon.logger.info(`${service}: ${signal}, stopping`);
      running
        .close()
        .then(() => kon.close())
        .then(
          () => process.exit(0),
          (err: unknown) => {
            kon.logger.error(`${service}: stop failed: ${String(err)}`);
            process.exit(1);
          },
        );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  };
  main().catch((err: unknown) => {
    console.error(`${service}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
