import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAdmin } from "../../src/admin-service";
import type { AdminRuntimeOptions, AdminService } from "../../src/admin-service";

/** Lines the service logged, to check that no secret ever reaches them. */
export class CapturedLog {
  readonly lines: string[] = [];
  readonly logger = {
    info: (m: string) => this.lines.push(m),
    warn: (m: string) => this.lines.push(m),
    error: (m: string) => this.lines.push(m),
  };
  text(): string {
    return this.lines.join("\n");
  }
}

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
  text: string;
}

/** A real NATS server, a database cloned from the migrated template, and an admin service. */
export class AdminHarness {
  admin!: AdminService;
  readonly log = new CapturedLog();
  private constructor(
    readonly nats: NatsServer,
    readonly db: PostgresDatabase,
    readonly dir: string,
  ) {}

  /** `opts` may depend on the NATS server (e.g. the auth-callout extension needs its keys). */
  static async start(
    opts: AdminRuntimeOptions | ((nats: NatsServer) => AdminRuntimeOptions) = {},
  ): Promise<AdminHarness> {
    const [nats, db] = await Promise.all([startNats(), startPostgres()]);
    const h = new AdminHarness(nats, db, mkdtempSync(join(tmpdir(), "kon-admin-")));
    await h.startAdmin(typeof opts === "function" ? opts(nats) : opts);
    return h;
  }

  get signingKeyFile(): string {
    return join(this.dir, "secrets", "signing.pem");
  }
  get bootstrapFile(): string {
    return join(this.dir, "secrets", "bootstrap-token");
  }

  /** (Re)starts the service on this harness's servers and files. */
  async startAdmin(opts: AdminRuntimeOptions = {}): Promise<AdminService> {
    this.admin = await createAdmin({
      // The admin's own least-privilege NATS credential (and TLS, when the server has it).
      ...this.nats.serviceOptions("admin"),
      pgUrl: this.db.url,
      port: 0,
      signingKeyFile: this.signingKeyFile,
      bootstrapTokenFile: this.bootstrapFile,
      // Cheap argon2 for tests; the cost is an option and production keeps OWASP's.
      argon2MemoryKib: 1024,
      argon2TimeCost: 1,
      logger: this.log.logger,
      ...opts,
    });
    return this.admin;
  }

  bootstrapToken(): string {
    return readFileSync(this.bootstrapFile, "utf8").trim();
  }

  async http(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string } = {},
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined || opts.raw !== undefined)
      headers["content-type"] = "application/json";
    const res = await fetch(this.admin.url + path, {
      method,
      headers,
      body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    return { status: res.status, body, headers: res.headers, text };
  }

  /** Bootstraps the first admin and signs in; returns the session's access token. */
  async firstAdmin(
    email = "root@example.org",
    password = "correct horse battery",
  ): Promise<string> {
    const s = await this.http("POST", "/v1/auth/signup", {
      body: { email, password, bootstrapToken: this.bootstrapToken() },
    });
    if (s.status !== 201) throw new Error(`signup failed: ${s.text}`);
    const l = await this.http("POST", "/v1/auth/login", { body: { email, password } });
    if (l.status !== 200) throw new Error(`login failed: ${l.text}`);
    return l.body.accessToken as string;
  }

  async stop(): Promise<void> {
    await this.admin?.close();
    await Promise.all([this.nats.stop(), this.db.stop()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function errorOf(a: HttpAnswer): { code: string; message: string; details: unknown } {
  return a.body.error as { code: string; message: string; details: unknown };
}
