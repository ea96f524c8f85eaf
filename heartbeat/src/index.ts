// @konorkestra/heartbeat is the liveness monitor, run as a process of its own (`kon-monitor`,
// src/main.ts). No other package imports it, so its entry exports nothing: an export is added
// here when something outside needs it. Its own tests import from ../src directly.
export {};
