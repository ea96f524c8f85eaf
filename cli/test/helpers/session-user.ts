// One `kon` command's use of a stored session, in a process of its own, started in step with
// others: `node testkit/src/run-ts.cjs cli/test/helpers/session-user.ts <config dir> <admin URL>`.
// It reads the stored credential as a command does at its start (SessionTokens), prints `ready`
// and waits for a line on stdin, so that every process holds the same, almost expired session
// when they go; then it makes an admin request with it (refreshing first, as a command does).
// Prints the access token it used; exits 1 with the error on stderr.
import { ConfigStore } from "../../src/client/config-store";
import { HttpClient } from "../../src/client/http-client";
import { SessionTokens } from "../../src/client/session-tokens";

async function main(): Promise<void> {
  const [dir, adminUrl] = process.argv.slice(2);
  if (!dir || !adminUrl) throw new Error("usage: session-user.ts DIR ADMIN_URL");
  const store = new ConfigStore(dir);
  const tokens = new SessionTokens(
    store,
    "local",
    new HttpClient("admin API", adminUrl),
    undefined,
  );
  process.stdout.write("ready\n");
  await new Promise((r) => process.stdin.once("data", r));
  process.stdin.pause();
  await new HttpClient("admin API", adminUrl, tokens).get("/v1/groups");
  process.stdout.write(`${(await tokens.token()) ?? ""}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
