// @konorkestra/config-loader: watches a config folder and publishes it to NATS KV (see README).
// The service runs from main.ts; this entry holds only what other packages use (the propagation
// benchmark runs a loader in process). The loader's tests import ../src/... directly.
export { createConfigLoader } from "./config-loader";
export type { ConfigLoader } from "./config-loader";
// The consistency benchmark runs the STRONG-write coordinator against an in-process fleet.
export { PrepareCoordinator } from "./prepare-coordinator";
export type { PrepareOutcome } from "./prepare-coordinator";
