import type { Konorkestra } from "@konorkestra/sdk";
import { openFleetConfig } from "../fleet-config";
import { addHealthRoute } from "../health-route";
import { listen } from "../http-listen";
import type { RunningService } from "../service-main";
import { createService1App } from "./service1-app";
import { Service1Config } from "./service1-config";

/** Starts service1 on `port` with config key `service1` of the connection's group. */
export async function startService1(kon: Konorkestra, port: number): Promise<RunningService> {
  const cfg = await kon.config("service1", Service1Config, { default: {} });
  const fleet = await openFleetConfig(kon);
  const { app } = createService1App(cfg);
  addHealthRoute(app, "service1", kon, cfg, fleet);
  const http = await listen(app, port);
  return {
    port: http.port,
    close: async () => {
      cfg.close();
      fleet.close();
      await http.close();
    },
  };
}
