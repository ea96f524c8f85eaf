import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { groupInboxPrefix, wireNames } from "@konorkestra/sdk/internal";

/** Where the demo finds the admin service and the installation's secrets. */
export interface TrustSetup {
  adminUrl: string;
  secretsDir: string;
  tlsCa: string;
  natsUrl: string;
  group: string;
}

const log = (msg = ""): void => console.log(msg);

interface Problem {
  code?: string;
  message?: string;
}

/** One admin API call; throws with the service's `{ code, message }` on an error status. */
async function call<T>(
  s: TrustSetup,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${s.adminUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const json = (text ? JSON.parse(text) : {}) as T & Problem;
  if (res.status >= 400 && res.status !== 404) {
    throw new Error(
      `demo: ${method} ${path} answered ${res.status} ${json.code ?? ""} ${json.message ?? ""}`,
    );
  }
  return { status: res.status, json };
}

/** Writes a secret the demo made (0600), so the next run reuses it. */
function keep(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
}

/**
 * Step 0 (the seed's walk): the first admin signs up with the bootstrap token `make up` wrote
 * (its 0600 file),
 * creates the group, and gets its join key, which the example services then join with. Later
 * runs log in with the demo admin kept in .stack/secrets/demo-admin.json. Returns a session token.
 */
export async function bootstrapAndJoin(s: TrustSetup): Promise<string> {
  const adminFile = join(s.secretsDir, "demo-admin.json");
  let creds: { email: string; password: string };
  if (existsSync(adminFile)) {
    creds = JSON.parse(readFileSync(adminFile, "utf8")) as typeof creds;
    log(`0. Admin ${creds.email} logs in (${adminFile})`);
  } else {
    const tokenFile = join(s.secretsDir, "admin-bootstrap-token");
    if (!existsSync(tokenFile)) {
      throw new Error(
        `demo: no ${adminFile} and no bootstrap token in ${tokenFile}: an admin exists that the demo does not know; sign in yourself (README, "Admins, groups and join keys")`,
      );
    }
    creds = { email: "demo@konorkestra.local", password: randomBytes(18).toString("base64url") };
    await call(s, "POST", "/v1/auth/signup", {
      ...creds,
      bootstrapToken: readFileSync(tokenFile, "utf8").trim(),
    });
    keep(adminFile, JSON.stringify(creds));
    log(`0. First admin ${creds.email} signs up with the one-time bootstrap token`);
    log(`   (password kept in ${adminFile})`);
  }
  const session = await call<{ accessToken: string }>(s, "POST", "/v1/auth/login", creds);
  const token = session.json.accessToken;

  const keyFile = join(s.secretsDir, `group-${s.group}.joinkey`);
  const shown = await call(s, "GET", `/v1/groups/${s.group}`, undefined, token);
  if (shown.status === 404) {
    const made = await call<{ joinKey: string; keyId: string }>(
      s,
      "POST",
      "/v1/groups",
      { name: s.group },
      token,
    );
    keep(keyFile, made.json.joinKey);
    log(
      `   creates group ${s.group}: join key ${mask(made.json.joinKey)} (shown once; kept in ${keyFile})`,
    );
  } else if (!existsSync(keyFile)) {
    const rotated = await call<{ joinKey: string }>(
      s,
      "POST",
      `/v1/groups/${s.group}/join-keys`,
      {},
      token,
    );
    keep(keyFile, rotated.json.joinKey);
    log(`   group ${s.group} exists; its key is rotated and the new one kept in ${keyFile}`);
  } else {
    log(`   group ${s.group} exists; its join key is in ${keyFile}`);
  }
  return token;
}

/** A read-scoped API token for the dashboard and the analytics API. */
export async function readToken(s: TrustSetup, session: string): Promise<string> {
  const made = await call<{ token: string }>(
    s,
    "POST",
    "/v1/tokens",
    { name: `make demo ${new Date().toISOString()}`, scopes: ["read"], ttlMs: 86_400_000 },
    session,
  );
  return made.json.token;
}

/** Shows the first and last characters of a key only. */
function mask(key: string): string {
  return `${key.slice(0, 4)}…${key.slice(-4)}`;
}

/**
 * Last step: a node of another group is refused the demo group's config, and a made-up key is
 * refused a connection. The server says no, not the client.
 */
export async function crossGroupRefused(s: TrustSetup, session: string): Promise<void> {
  const other = `${s.group}-other`;
  const names = wireNames();
  const shown = await call(s, "GET", `/v1/groups/${other}`, undefined, session);
  if (shown.status !== 404) await call(s, "DELETE", `/v1/groups/${other}`, undefined, session);
  const made = await call<{ joinKey: string }>(s, "POST", "/v1/groups", { name: other }, session);
  log(`5. A node of group ${other} (its own valid key) asks for ${s.group}'s config:`);
  const nc = await connect({
    servers: s.natsUrl,
    tls: { caFile: s.tlsCa },
    token: made.json.joinKey,
    inboxPrefix: groupInboxPrefix(names, other),
  });
  try {
    const kv = await new Kvm(nc).open(names.configBucket(s.group));
    await kv.get("service3");
    throw new Error(`demo: a node of ${other} could read ${s.group}'s config`);
  } catch (err) {
    if (String(err).includes("could read")) throw err;
    log(`   refused by NATS: ${String(err).replace(/^Error: /, "")}`);
  } finally {
    await nc.close();
    await call(s, "DELETE", `/v1/groups/${other}`, undefined, session);
  }
  const forged = await connect({
    servers: s.natsUrl,
    tls: { caFile: s.tlsCa },
    token: "AX324JR9-NOT-A-REAL-KEY",
    timeout: 5000,
  }).then(
    async (c) => {
      await c.close();
      return "connected";
    },
    (err: unknown) => String(err).replace(/^Error: /, ""),
  );
  if (forged === "connected") throw new Error("demo: a made-up join key was let in");
  log(`   a made-up join key: ${forged}`);
}
