import { z } from "zod";
import type { ConfigHandle, Konorkestra } from "@konorkestra/sdk";

/** Config key `fleet`: settings every example service of the group shares. */
export const FleetConfig = z.object({
  /** Shown in every service's /healthz: edit it once, see it reach the whole group. */
  banner: z.string().max(200).default("konorkestra"),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
});
export type FleetConfig = z.infer<typeof FleetConfig>;

/** Opens the shared `fleet` key (its defaults apply while the key does not exist). */
export function openFleetConfig(kon: Konorkestra): Promise<ConfigHandle<FleetConfig>> {
  return kon.config("fleet", FleetConfig, { default: {} });
}
