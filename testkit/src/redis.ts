import { randomBytes } from "node:crypto";
import { chownSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getFreePort } from "./free-port";
import type { LaunchSpec } from "./managed-process";
import { makeScratchDir } from "./scratch-dir";
import type { ScratchDir } from "./scratch-dir";
import { ServerProcess } from "./server-process";
import { loadStackEnv } from "./stack-env";

/** A running redis-server on loopback, with no persistence. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://:<password>@127.0.0.1:<port>`: the server requires its random password. */
  readonly url: string;
  readonly password: string;
  readonly pid: number;
  readonly running: boolean;
  shutdown(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

class RedisServerImpl extends ServerProcess implements RedisServer {
  readonly host = "127.0.0.1";

  readonly password = randomBytes(18).toString("base64url");

  constructor(
    readonly port: number,
    dir: ScratchDir,
  ) {
    super(dir);
    // The password goes in through a config file the server's user alone can read, not argv.
    const file = join(dir.hostPath, "redis.conf");
    writeFileSync(file, `requirepass ${this.password}\n`, { mode: 0o600 });
    const owner = statSync(dir.hostPath);
    chownSync(file, owner.uid, owner.gid);
  }

  get url(): string {
    return `redis://:${this.password}@${this.host}:${this.port}`;
  }

  protected launchSpec(): Omit<LaunchSpec, "scratchDir"> {
    const env = loadStackEnv();
    return {
      name: "redis-server",
      command: env.redisServer,
      args: [
        join(this.dir.serverPath, "redis.conf"),
        "--bind",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--dir",
        this.dir.serverPath,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        "",
      ],
      chrootDir: env.redisRoot,
      user: env.redisUser,
      logFile: join(this.dir.hostPath, "redis.log"),
      readyPattern: /Ready to accept connections/,
    };
  }
}

/** Starts redis-server on a free loopback port with a temporary directory. */
export async function startRedis(): Promise<RedisServer> {
  const env = loadStackEnv();
  const dir = makeScratchDir("redis", env.redisRoot, env.redisUser);
  for (let attempt = 1; ; attempt++) {
    const server = new RedisServerImpl(await getFreePort(), dir);
    try {
      await server.start();
      return server;
    } catch (err) {
      if (attempt < 3 && /address already in use/i.test(String(err))) continue;
      dir.remove();
      throw err;
    }
  }
}
