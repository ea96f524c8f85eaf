import { randomBytes } from "node:crypto";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { z } from "zod";

import { CliError, ExitCode } from "../exit-codes";

/** One stack `kon` talks to. Every field is optional: unset fields fall back to the local stack. */
export const stackContextSchema = z.strictObject({
  adminUrl: z.string().optional(),
  analyticsUrl: z.string().optional(),
  monitorUrl: z.string().optional(),
  loaderUrl: z.string().optional(),
  natsUrl: z.string().optional(),
  caFile: z.string().optional(),
});
export type StackContext = z.infer<typeof stackContextSchema>;

const configSchema = z.strictObject({
  current: z.string().optional(),
  contexts: z.record(z.string(), stackContextSchema).default({}),
});
export type KonConfig = z.infer<typeof configSchema>;

/** What `kon login` keeps per context: a session (refreshable) or an API token. */
export const credentialSchema = z.union([
  z.strictObject({
    kind: z.literal("session"),
    email: z.string(),
    accessToken: z.string(),
    accessExpiresAt: z.string(),
    refreshToken: z.string(),
    refreshExpiresAt: z.string(),
  }),
  z.strictObject({ kind: z.literal("api-token"), token: z.string() }),
]);
export type Credential = z.infer<typeof credentialSchema>;

const credentialsSchema = z.record(z.string(), credentialSchema);

/**
 * A credentials lock older than this is taken to be left by a process that died holding it. A
 * holder needs one refresh request, far less: the lock is never held across anything slow.
 */
export const CREDENTIALS_LOCK_STALE_MS = 30_000;
/** How often a process waiting for the credentials lock looks again. */
const LOCK_POLL_MS = 20;

/** Context names: what a person types, and safe as a JSON key and a file-name part. */
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * `$XDG_CONFIG_HOME/konorkestra` (an absolute XDG_CONFIG_HOME only, as the XDG spec says), else
 * `~/.config/konorkestra`. (Not KON_CONFIG_DIR: the loader and the admin read that as the root of
 * the config folder, and kon must never write its files there.)
 */
export function configDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "konorkestra");
  return join(env.HOME || homedir(), ".config", "konorkestra");
}

/**
 * The files under the config dir: `config.json` (contexts, no secrets) and `credentials.json`
 * (tokens, per context). The directory is 0700 and both files 0600, written by rename so a
 * crash never leaves half a file; tokens are kept apart so `config.json` can be shared.
 */
export class ConfigStore {
  constructor(readonly dir: string) {}

  get configFile(): string {
    return join(this.dir, "config.json");
  }
  get credentialsFile(): string {
    return join(this.dir, "credentials.json");
  }
  /** Held (created with O_EXCL) by the one process changing the credentials at a time. */
  get credentialsLockFile(): string {
    return `${this.credentialsFile}.lock`;
  }

  /**
   * Runs `fn` holding the credentials lock, so that of several `kon` processes only one at a
   * time reads, refreshes and writes a stored session (two refreshes with one refresh token are
   * two uses of it). The lock is a file beside the credentials created exclusively (`wx`, 0600);
   * a process waits while another holds it, takes it over once it is older than
   * {@link CREDENTIALS_LOCK_STALE_MS} (its holder died), and always removes its own.
   */
  async withCredentialsLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = this.credentialsLockFile;
    const mine = `${process.pid} ${randomBytes(8).toString("hex")}\n`;
    this.ensureDir();
    for (;;) {
      try {
        writeFileSync(lock, mine, { flag: "wx", mode: 0o600 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw lockFailure(lock, err);
      }
      this.removeIfStale(lock);
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS + Math.random() * LOCK_POLL_MS));
    }
    try {
      return await fn();
    } finally {
      // Only our own: after a takeover (we were taken for dead) the file is another's.
      try {
        if (readFileSync(lock, "utf8") === mine) unlinkSync(lock);
      } catch {
        // gone already
      }
    }
  }

  /** Removes a lock left by a process that died holding it. */
  private removeIfStale(lock: string): void {
    let age: number;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      return; // released meanwhile
    }
    if (age < CREDENTIALS_LOCK_STALE_MS) return;
    // Renamed away first, so that of several waiters seeing it stale only one removes it.
    const aside = `${lock}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
    try {
      renameSync(lock, aside);
    } catch {
      return; // another waiter took it first
    }
    try {
      // Another waiter may have removed the stale lock and made its own between our look and
      // the rename: a fresh one goes back (unless a third process holds the name by now).
      if (Date.now() - statSync(aside).mtimeMs < CREDENTIALS_LOCK_STALE_MS) linkSync(aside, lock);
    } catch {
      // the name is taken again: that process holds the lock
    }
    try {
      unlinkSync(aside);
    } catch {
      // nothing to do
    }
  }

  readConfig(): KonConfig {
    return this.readJson(this.configFile, configSchema, { contexts: {} });
  }

  writeConfig(config: KonConfig): void {
    this.writeJson(this.configFile, config);
  }

  credential(context: string): Credential | undefined {
    return this.readJson(this.credentialsFile, credentialsSchema, {})[context];
  }

  /**
   * {@link setCredential} under the credentials lock: the file holds every context's credential
   * and is rewritten whole, so a `kon login` or `logout` beside another command's refresh must
   * not write over it (or have its write lost).
   */
  storeCredential(context: string, cred: Credential | undefined): Promise<void> {
    return this.withCredentialsLock(() => Promise.resolve(this.setCredential(context, cred)));
  }

  /** Writes one context's credential; callers outside the credentials lock use {@link storeCredential}. */
  setCredential(context: string, cred: Credential | undefined): void {
    const all = this.readJson(this.credentialsFile, credentialsSchema, {});
    if (cred) all[context] = cred;
    else delete all[context];
    this.writeJson(this.credentialsFile, all);
  }

  private readJson<S extends z.ZodType>(file: string, schema: S, empty: z.output<S>): z.output<S> {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return empty;
      throw new CliError(ExitCode.Failed, `cannot read ${file}`, {
        hint: (err as NodeJS.ErrnoException).code,
      });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new CliError(ExitCode.Failed, `${file} is not valid JSON`, {
        hint: "fix or remove the file",
      });
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CliError(
        ExitCode.Failed,
        `${file}: ${issue.path.map(String).join(".") || "file"}: ${issue.message}`,
        { hint: "fix or remove the file" },
      );
    }
    return parsed.data;
  }

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // mkdir leaves an existing directory's mode alone: ours must not be readable by others.
    if ((statSync(this.dir).mode & 0o077) !== 0) chmodSync(this.dir, 0o700);
  }

  private writeJson(file: string, value: unknown): void {
    this.ensureDir();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }
}

function lockFailure(lock: string, err: unknown): CliError {
  return new CliError(ExitCode.Failed, `cannot create the lock file ${lock}`, {
    hint: (err as NodeJS.ErrnoException).code,
  });
}
