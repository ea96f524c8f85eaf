import type { Command } from "commander";

import type { StackContext } from "../client/config-store";
import { omitAdminId, sessionPairSchema } from "../client/session-tokens";
import { STACK_FIELDS } from "../client/stack-resolver";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { action } from "./invocation";
import type { Invocation } from "./invocation";
import { ask, canPrompt, readSecretLine } from "./prompt";

interface LoginFlags {
  email?: string;
  passwordStdin?: boolean;
  tokenStdin?: boolean;
}

/** `kon login` and `kon logout`. */
export function registerLoginCommands(program: Command, io: CliIo): void {
  program
    .command("login")
    .description("sign in to the admin API and keep the session for this context (0600 file)")
    .option("--email <email>", "admin e-mail (asked when not given)")
    .option("--password-stdin", "read the password from stdin (for scripts)")
    .option("--token-stdin", "keep an API token read from stdin instead of signing in")
    .action(action(io, login));

  program
    .command("logout")
    .description("end the session of this context and forget its token")
    .action(action(io, logout));
}

async function login(inv: Invocation, flags: LoginFlags): Promise<void> {
  const stack = inv.stack;
  if (flags.tokenStdin) {
    const token = await readSecretLine(inv.io, "API token");
    // Checked before it is kept: a typo should fail here, not in the next command.
    await inv.client("admin", false).get("/v1/groups", {
      headers: { authorization: `Bearer ${token}` },
    });
    remember(inv);
    await inv.store.storeCredential(stack.context, { kind: "api-token", token });
    inv.out.result({
      json: { context: stack.context, adminUrl: stack.adminUrl, kind: "api-token" },
      human: (o) => o.line(`kept the API token for context '${stack.context}' (${stack.adminUrl})`),
    });
    return;
  }
  const email = flags.email ?? (await askFor(inv, "e-mail: ", false));
  const password = flags.passwordStdin
    ? await readSecretLine(inv.io, "password")
    : await askFor(inv, "password: ", true);
  const progress = inv.out.progress(`signing in to ${stack.adminUrl}`);
  let pair;
  try {
    pair = sessionPairSchema.parse(
      await inv.client("admin", false).post("/v1/auth/login", { email, password }),
    );
  } catch (err) {
    // The generic 401 hint ("sign in with 'kon login'") is what the user is doing already.
    if (err instanceof CliError && err.exitCode === ExitCode.Refused && err.details?.hint) {
      throw new CliError(
        err.exitCode,
        err.message,
        { ...err.details, hint: `check the e-mail and password for ${stack.adminUrl}` },
        { cause: err },
      );
    }
    throw err;
  } finally {
    progress.done();
  }
  remember(inv);
  await inv.store.storeCredential(stack.context, {
    kind: "session",
    email: email.toLowerCase(),
    ...omitAdminId(pair),
  });
  inv.out.result({
    json: {
      context: stack.context,
      adminUrl: stack.adminUrl,
      kind: "session",
      email: email.toLowerCase(),
      accessExpiresAt: pair.accessExpiresAt,
      refreshExpiresAt: pair.refreshExpiresAt,
    },
    human: (o) =>
      o.line(
        `signed in to ${stack.adminUrl} as ${email.toLowerCase()} (context '${stack.context}', until ${pair.refreshExpiresAt})`,
      ),
  });
}

async function askFor(inv: Invocation, question: string, hidden: boolean): Promise<string> {
  if (!canPrompt(inv.io)) {
    throw new CliError(ExitCode.Usage, `no terminal to ask for the ${question.slice(0, -2)}`, {
      hint: "pass --email, and the password with --password-stdin",
    });
  }
  const answer = (await ask(inv.io, question, hidden)).trim();
  if (!answer) throw new CliError(ExitCode.Usage, `no ${question.slice(0, -2)} given`);
  return answer;
}

/**
 * Saves the context a sign-in used, with the URLs given by flag or environment, so that later
 * commands reach the same stack; the first context saved becomes the current one.
 */
function remember(inv: Invocation): void {
  const stack = inv.stack;
  const config = inv.store.readConfig();
  if (!config.contexts[stack.context]) {
    const ctx: StackContext = {};
    for (const f of STACK_FIELDS) {
      const value = stack[f.field];
      if (stack.sources[f.field] !== "default" && value !== undefined) ctx[f.field] = value;
    }
    config.contexts[stack.context] = ctx;
  }
  config.current ??= stack.context;
  inv.store.writeConfig(config);
}

async function logout(inv: Invocation): Promise<void> {
  const context = inv.stack.context;
  const cred = inv.store.credential(context);
  if (!cred) {
    inv.out.note(`context '${context}' holds no session`);
    return;
  }
  if (cred.kind === "session") {
    try {
      // The refresh token ends the session (every access token of it, on every service); the
      // access token goes along too, so a logout whose refresh token is stale still ends it.
      await inv
        .client("admin", false)
        .post(
          "/v1/auth/logout",
          { refreshToken: cred.refreshToken },
          { headers: { authorization: `Bearer ${cred.accessToken}` } },
        );
    } catch (err) {
      // Forgetting the token locally is what the user asked for; say what could not be done.
      if (!(err instanceof CliError)) throw err;
      inv.out.warn(`the admin API did not end the session: ${err.message}`);
    }
  }
  await inv.store.storeCredential(context, undefined);
  inv.out.result({
    json: { context, loggedOut: true },
    human: (o) => o.line(`signed out of context '${context}'`),
  });
}
