import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { getFreePort } from "./free-port";
import { sleep } from "./managed-process";
import type { LaunchSpec } from "./managed-process";
import { lookupUser, makeScratchDir } from "./scratch-dir";
import type { ScratchDir } from "./scratch-dir";
import { ServerProcess } from "./server-process";
import { loadStackEnv } from "./stack-env";

const run = promisify(execFile);

/** Superuser created by initdb; tests connect as it over loopback with trust auth. */
export const PG_USER = "kon";
/** Name of the template database that test databases are cloned from. */
export const PG_TEMPLATE = "kon_template";

/** A PostgreSQL server with TimescaleDB preloaded, on loopback. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly pid: number;
  readonly running: boolean;
  /** Connection URL of `database` on this server. */
  url(database?: string): string;
  /** Fast clean shutdown (SIGINT); data is kept for `restart`. */
  shutdown(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** A database of its own for one test file. */
export interface PostgresDatabase {
  readonly url: string;
  readonly database: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Drops the database (and stops the server, if this call started one). */
  stop(): Promise<void>;
}

/** Runs a PostgreSQL tool as the server's user, inside its chroot when it has one. */
async function runPgTool(tool: string, args: string[]): Promise<string> {
  const env = loadStackEnv();
  const bin = join(env.pgBin, tool);
  let cmd = bin;
  let argv = args;
  if (env.pgRoot) {
    const { uid, gid } = lookupUser(env.pgRoot, env.pgUser);
    cmd = "chroot";
    argv = [`--userspec=${uid}:${gid}`, env.pgRoot, bin, ...args];
  }
  try {
    const { stdout } = await run(cmd, argv, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`testkit: ${tool} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

class PostgresServerImpl extends ServerProcess implements PostgresServer {
  readonly host = "127.0.0.1";
  readonly user = PG_USER;

  constructor(
    readonly port: number,
    dir: ScratchDir,
  ) {
    super(dir);
  }

  url(database = "postgres"): string {
    return `postgres://${this.user}@${this.host}:${this.port}/${database}`;
  }

  async init(): Promise<void> {
    await runPgTool("initdb", [
      "-D",
      join(this.dir.serverPath, "data"),
      "-U",
      PG_USER,
      "--auth=trust",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--no-sync",
      "--no-instructions",
    ]);
  }

  protected launchSpec(): Omit<LaunchSpec, "scratchDir"> {
    const env = loadStackEnv();
    return {
      name: "postgres",
      command: join(env.pgBin, "postgres"),
      args: [
        "-D",
        join(this.dir.serverPath, "data"),
        "-p",
        String(this.port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "shared_preload_libraries=timescaledb",
        "-c",
        "timescaledb.telemetry_level=off",
        "-c",
        "max_connections=300",
        // Test data is thrown away: durability costs time and buys nothing here.
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ],
      chrootDir: env.pgRoot,
      user: env.pgUser,
      logFile: join(this.dir.hostPath, "postgres.log"),
      readyPattern: /database system is ready to accept connections/,
      stopSignal: "SIGINT",
    };
  }
}

/** Starts a PostgreSQL server of its own (initdb in a temporary directory). */
export async function startPostgresServer(): Promise<PostgresServer> {
  const env = loadStackEnv();
  const dir = makeScratchDir("pg", env.pgRoot, env.pgUser);
  for (let attempt = 1; ; attempt++) {
    const server = new PostgresServerImpl(await getFreePort(), dir);
    try {
      if (attempt === 1) await server.init();
      await server.start();
      return server;
    } catch (err) {
      if (attempt < 3 && /could not (bind|create listen)|address already in use/i.test(String(err)))
        continue;
      dir.remove();
      throw err;
    }
  }
}

/** Runs SQL on a server as the superuser, on one short-lived connection. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A step that brings a fresh database to the schema tests expect (on a client or by URL). */
export type TemplateMigration = (client: Client, databaseUrl: string) => Promise<void>;

/**
 * Creates the template database once: TimescaleDB installed, then each migration in order.
 * Test databases are cloned from it, so a migration runs once per test run, not per test file.
 */
export async function prepareTemplate(
  server: PostgresServer,
  migrations: TemplateMigration[] = [],
  name = PG_TEMPLATE,
): Promise<string> {
  await withClient(server.url(), (c) => c.query(`CREATE DATABASE ${name}`));
  await withClient(server.url(name), async (c) => {
    await c.query("CREATE EXTENSION IF NOT EXISTS timescaledb");
    for (const m of migrations) await m(c, server.url(name));
  });
  // Only superusers may clone a database not marked as a template; mark it so intent is clear.
  await withClient(server.url(), (c) => c.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true`));
  return name;
}

/** Clones a fresh database from the template. Retries while another clone holds the template. */
export async function createDatabaseFromTemplate(
  adminUrl: string,
  template = PG_TEMPLATE,
): Promise<string> {
  const name = `kon_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withClient(adminUrl, async (c) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        return;
      } catch (err) {
        // "source database is being accessed by other users": clones of one template serialize.
        if (attempt >= 50 || !/being accessed by other users/.test(String(err))) throw err;
        await sleep(100);
      }
    }
  });
  return name;
}

function describeUrl(url: string): { host: string; port: number; user: string } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username) };
}

/**
 * A fresh database for one test file. Inside a Jest run it is cloned from the run's migrated
 * template on the shared server (KON_TEST_PG_URL, set by the global setup). Elsewhere it starts a
 * server of its own, prepares the template, and stops the server again on `stop()`.
 */
export async function startPostgres(): Promise<PostgresDatabase> {
  const shared = process.env.KON_TEST_PG_URL;
  let server: PostgresServer | undefined;
  let adminUrl: string;
  if (shared) {
    adminUrl = shared;
  } else {
    server = await startPostgresServer();
    await prepareTemplate(server);
    adminUrl = server.url();
  }
  const database = await createDatabaseFromTemplate(adminUrl);
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return {
    url: u.toString(),
    database,
    ...describeUrl(adminUrl),
    stop: async () => {
      if (server) {
        await server.stop();
        return;
      }
      await withClient(adminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
      );
    },
  };
}
