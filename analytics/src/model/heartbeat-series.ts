/** Bucket widths of the heartbeat series the API offers. */
export const SERIES_BUCKETS = ["1m", "5m", "15m", "1h", "1d"] as const;
export type SeriesBucket = (typeof SERIES_BUCKETS)[number];

/** One point of the heartbeat series. */
export interface SeriesPoint {
  tMs: number;
  beats: number;
  lateBeats: number;
  /** Nodes that sent at least one beat in the bucket. */
  nodes: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** Apparent clock offset of the node furthest off (see SeriesStore.heartbeats). */
  clockSkewMs: number | null;
}
