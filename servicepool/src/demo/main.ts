import { join, resolve } from "node:path";
import { envNumber, envString } from "@konorkestra/sdk/internal";
import { runDemo } from "./demo-scenario";

// Run by `make demo` after `make up` (servicepool/dist/demo/main.js); ports match scripts/stack.sh.
const repo = resolve(__dirname, "../../..");
runDemo({
  repo,
  configDir: envString(process.env, "KON_CONFIG_DIR") ?? join(repo, ".stack", "config"),
  group: envString(process.env, "KON_GROUP") ?? "demo",
  services: [
    { name: "service1", port: 7101 },
    { name: "service2", port: 7102 },
    { name: "service3", port: 7103 },
  ],
  monitorPort: envNumber(process.env, "KON_MONITOR_PORT") ?? 7002,
  analyticsPort: envNumber(process.env, "KON_ANALYTICS_PORT") ?? 7003,
  trust: {
    adminUrl: `http://127.0.0.1:${envNumber(process.env, "KON_ADMIN_PORT") ?? 7004}`,
    secretsDir: join(repo, ".stack", "secrets"),
    tlsCa: join(repo, ".stack", "tls", "ca.pem"),
    natsUrl: `nats://127.0.0.1:${envNumber(process.env, "KON_NATS_PORT") ?? 4222}`,
    group: envString(process.env, "KON_GROUP") ?? "demo",
  },
}).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
