import type { GroupSyncResult } from "./group-sync";

/** Outcome of one reconcile pass (returned by `POST /v1/_refresh`). */
export interface ReconcileReport {
  /** `full`: every group folder (start, refresh, symlink flip, resync); `partial`: changed groups. */
  scope: "full" | "partial";
  ok: boolean;
  startedAtMs: number;
  durationMs: number;
  groups: GroupSyncResult[];
  /** Why the pass failed (it is retried with backoff). */
  error?: { code: string; message: string };
}

/** `GET /healthz` body. */
export interface LoaderHealth {
  ok: boolean;
  connected: boolean;
  lastReconcileOk: boolean;
  /** 0 until a reconcile succeeded. */
  lastSuccessAtMs: number;
  /** Why the loader is not healthy. */
  reason?: string;
}
