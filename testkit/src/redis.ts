import { join } from "node:path";
import { getFreePort } from "./free-port";
import { ManagedProcess } from "./managed-process";
import { makeScratchDir } from "./scratch-dir";
import type { ScratchDir } from "./scratch-dir";
import { loadStackEnv } from "./stack-env";

/** A running redis-server on loopback, with no persistence. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
  readonly running: boolean;
  shutdown(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

class RedisServerImpl implements RedisServer {
  readonly host = "127.0.0.1";
  private proc: ManagedProcess | undefined;

  constructor(
    readonly port: number,
    private readonly dir: ScratchDir,
  ) {}

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }
  get pid(): number {
    return this.proc?.pid ?? -1;
  }
  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async start(): Promise<void> {
    const env = loadStackEnv();
    this.proc = await ManagedProcess.launch({
      name: "redis-server",
      command: env.redisServer,
      args: [
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
      scratchDir: this.dir.hostPath,
    });
  }

  async shutdown(): Promise<void> {
    await this.proc?.stop();
  }
  async kill(): Promise<void> {
    await this.proc?.kill();
  }
  async restart(): Promise<void> {
    if (this.running) await this.shutdown();
    await this.start();
  }
  async stop(): Promise<void> {
    await this.shutdown();
    this.dir.remove();
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
