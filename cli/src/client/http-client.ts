import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

import { CliError, ExitCode } from "../exit-codes";

/** Supplies the bearer token of a request, and a fresh one after a 401 when it can. */
export interface TokenSource {
  /** Undefined: send no Authorization header (the server will say what it needs). */
  token(): Promise<string | undefined>;
  /** Called once after a 401; true when a new token is available to retry with. */
  refresh(): Promise<boolean>;
}

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Send the token (default true). */
  auth?: boolean;
  /** Answer with the status instead of throwing on a 4xx/5xx (for /healthz). */
  allowError?: boolean;
  headers?: Record<string, string>;
}

/** An HTTP answer with its JSON body (undefined when empty or not JSON). */
export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** What the services answer on failure: `{ error: { code, message, details } }` (the loader's is flat). */
interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
  code?: string;
  message?: string;
}

/** The status and `details` of a service's error answer (a {@link CliError}'s cause). */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly details: unknown,
  ) {
    super(`HTTP ${status}`);
    this.name = "HttpFailure";
  }
}

/** Node's codes of a failed TLS handshake (an untrusted or mismatched certificate). */
export const TLS_FAILURE =
  /^(UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|CERT_|ERR_TLS_|ERR_SSL_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** Errors of a socket or TLS handshake: the server was not reached (exit 5). */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ECONNRESET",
  "EPIPE",
]);

/**
 * A small JSON client for one Konorkestra HTTP API (admin, monitor, analytics, loader). Maps every
 * failure to a {@link CliError}: not reached → 5, 404 → 3, 401/403/409 → 4, anything else → 1,
 * always naming the service and URL. Uses node:http(s) so a private CA file can be trusted.
 */
export class HttpClient {
  private ca: Buffer | undefined;

  constructor(
    /** Which service, for messages ("admin API"). */
    readonly service: string,
    readonly baseUrl: string,
    private readonly tokens?: TokenSource,
    private readonly opts: { caFile?: string; timeoutMs?: number } = {},
  ) {}

  async get<T = unknown>(path: string, o: RequestOptions = {}): Promise<T> {
    return (await this.call("GET", path, o)).body as T;
  }
  async post<T = unknown>(path: string, body?: unknown, o: RequestOptions = {}): Promise<T> {
    return (await this.call("POST", path, { ...o, body })).body as T;
  }
  async delete<T = unknown>(path: string, o: RequestOptions = {}): Promise<T> {
    return (await this.call("DELETE", path, o)).body as T;
  }

  /** Sends one request; on a 401 refreshes the token once and tries again. */
  async call(method: string, path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
    const useAuth = o.auth !== false && this.tokens !== undefined;
    let answer = await this.send(method, path, o, useAuth ? await this.tokens.token() : undefined);
    if (answer.status === 401 && useAuth && (await this.tokens.refresh())) {
      answer = await this.send(method, path, o, await this.tokens.token());
    }
    if (answer.status >= 400 && !o.allowError) throw this.failure(method, path, answer);
    return answer;
  }

  private url(path: string, query: RequestOptions["query"]): URL {
    let url: URL;
    try {
      url = new URL(this.baseUrl + path);
    } catch {
      throw new CliError(ExitCode.Usage, `the ${this.service} URL is not a URL: ${this.baseUrl}`, {
        hint: "check 'kon context show'",
      });
    }
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url;
  }

  private caBytes(): Buffer | undefined {
    if (!this.opts.caFile) return undefined;
    try {
      this.ca ??= readFileSync(this.opts.caFile);
    } catch (err) {
      throw new CliError(ExitCode.Failed, `cannot read the CA file ${this.opts.caFile}`, {
        hint: (err as NodeJS.ErrnoException).code,
      });
    }
    return this.ca;
  }

  private send(
    method: string,
    path: string,
    o: RequestOptions,
    token: string | undefined,
  ): Promise<HttpAnswer> {
    const url = this.url(path, o.query);
    const body = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const headers: Record<string, string> = { accept: "application/json", ...o.headers };
    if (body) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    const isHttps = url.protocol === "https:";
    if (!isHttps && url.protocol !== "http:") {
      throw new CliError(
        ExitCode.Usage,
        `the ${this.service} URL must be http(s), not ${url.protocol}`,
      );
    }
    const send = isHttps ? httpsRequest : httpRequest;
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = send(
        url,
        { method, headers, timeout: timeoutMs, ...(isHttps ? { ca: this.caBytes() } : {}) },
        (res) => void readAnswer(res).then(resolve, reject),
      );
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
      );
      req.on("error", (err) => reject(this.unreachable(url, err)));
      req.end(body);
    });
  }

  private unreachable(url: URL, err: NodeJS.ErrnoException): CliError {
    const code = err.code ?? "";
    const why = UNREACHABLE.has(code) ? code : code || err.message;
    const tls = TLS_FAILURE.test(code);
    return new CliError(
      ExitCode.Unreachable,
      `cannot reach the ${this.service} at ${url.origin}: ${why}`,
      {
        hint: tls
          ? "its certificate is not trusted: set the context's CA file (kon context set --ca-file) or KON_TLS_CA"
          : "is the stack running ('make up')? check the URL with 'kon context show'",
      },
      { cause: err },
    );
  }

  private failure(method: string, path: string, a: HttpAnswer): CliError {
    const b = (a.body ?? {}) as ErrorBody;
    const message = b.error?.message ?? b.message ?? `HTTP ${a.status}`;
    const code = b.error?.code ?? b.code;
    const exit =
      a.status === 404
        ? ExitCode.NotFound
        : a.status === 401 || a.status === 403 || a.status === 409
          ? ExitCode.Refused
          : ExitCode.Failed;
    const hint =
      a.status === 401
        ? "sign in with 'kon login', or pass an API token (--token or KON_API_TOKEN)"
        : undefined;
    // The server's error (code, message, details) rides along as the cause, for callers that
    // decide by its details (kon put creating a key the update did not find).
    return new CliError(
      exit,
      message,
      {
        where: `${this.service} ${method} ${path.split("?")[0]} → ${a.status}`,
        ...(code ? { code } : {}),
        ...(hint ? { hint } : {}),
      },
      { cause: new HttpFailure(a.status, b.error?.details ?? {}) },
    );
  }
}

async function readAnswer(res: IncomingMessage): Promise<HttpAnswer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode ?? 0, body };
}
