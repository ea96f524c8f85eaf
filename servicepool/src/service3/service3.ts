import type { Konorkestra } from "@konorkestra/sdk";
import { openFleetConfig } from "../fleet-config";
import { addHealthRoute } from "../health-route";
import { listen } from "../http-listen";
import type { RunningService } from "../service-main";
import { PoolManager } from "./pool-manager";
import { createService3App } from "./service3-app";
import { Service3Config } from "./service3-config";

/** A running service3 and its pool manager (generation = how many pools were built). */
export interface RunningService3 extends RunningService {
  pools: PoolManager;
}

/** Starts service3: PostgreSQL-backed; rebuilds its pool only when `database` changes. */
export async function startService3(kon: Konorkestra, port: number): Promise<RunningService3> {
  const cfg = await kon.config("service3", Service3Config);
  const fleet = await openFleetConfig(kon);
  const pools = new PoolManager(cfg, (msg) => kon.logger.error(`service3: ${msg}`));
  const app = createService3App(cfg, pools);
  addHealthRoute(app, "service3", kon, cfg, fleet);
  const http = await listen(app, port);
  return {
    port: http.port,
    pools,
    close: async () => {
      cfg.close();
      fleet.close();
      await http.close();
      await pools.close();
    },
  };
}
