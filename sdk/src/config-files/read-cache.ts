import type { BigIntStats } from "node:fs";
import type { SourceFormat } from "./key-mapper";
import type { ParseResult } from "./config-file-parser";

/** What a file was last parsed to, and how to know it is still the same file. */
interface Cached {
  /** dev, inode, size, mtime and ctime in ns: any write changes one of them. */
  statKey: string;
  /** Modification time in ms, to spot files written within the clock's resolution. */
  mtimeMs: number;
  /** sha256 of the bytes and the format they were parsed as. */
  contentKey: string;
  result: ParseResult;
}

/**
 * Files written less than this long before they were read may change again within the same
 * timestamp (git's "racy" case): their stat alone is never trusted; their bytes are hashed.
 */
const RACY_MS = 2000;

/**
 * Remembers each file's parse by its stat and by the hash of its bytes, so that a pass over a
 * group re-parses only what changed: an unchanged stat skips reading, an unchanged hash skips
 * parsing. Lives as long as its owner (the loader keeps one, and clears it now and then as a
 * safety net for a file system that lies about stat).
 */
export class ReadCache {
  private readonly byPath = new Map<string, Cached>();
  hits = { stat: 0, content: 0, misses: 0 };

  /** The parse of an unchanged file, without reading it. */
  byStat(
    path: string,
    st: BigIntStats,
    format: SourceFormat,
    nowMs: number,
  ): ParseResult | undefined {
    const c = this.byPath.get(path);
    if (!c || c.statKey !== statKeyOf(st) || !c.contentKey.endsWith(`:${format}`)) return undefined;
    if (nowMs - c.mtimeMs < RACY_MS) return undefined;
    this.hits.stat++;
    return c.result;
  }

  /** The parse of bytes already seen at this path. */
  byContent(path: string, st: BigIntStats, contentKey: string): ParseResult | undefined {
    const c = this.byPath.get(path);
    if (!c || c.contentKey !== contentKey) {
      this.hits.misses++;
      return undefined;
    }
    c.statKey = statKeyOf(st);
    c.mtimeMs = Number(st.mtimeMs);
    this.hits.content++;
    return c.result;
  }

  store(path: string, st: BigIntStats, contentKey: string, result: ParseResult): void {
    this.byPath.set(path, {
      statKey: statKeyOf(st),
      mtimeMs: Number(st.mtimeMs),
      contentKey,
      result,
    });
  }

  /** Forgets files no longer present (call with the paths of a complete listing). */
  retain(paths: ReadonlySet<string>, prefix: string): void {
    for (const p of this.byPath.keys())
      if (p.startsWith(prefix) && !paths.has(p)) this.byPath.delete(p);
  }

  clear(): void {
    this.byPath.clear();
  }

  get size(): number {
    return this.byPath.size;
  }
}

const statKeyOf = (st: BigIntStats): string =>
  `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
