import { Redis } from "ioredis";

/** `redis_version` from INFO server of the Redis at `url`. */
export async function redisVersion(url: string): Promise<string> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await r.connect();
    const info = await r.info("server");
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? "?";
  } finally {
    r.disconnect();
  }
}
