// `make up` (scripts/stack.sh) tells where the first admin's bootstrap token is, never the token:
// its output ends up in terminals' scrollback and CI logs (issue 13: it printed the token while
// the README said it is never logged). Runs the real script on a temp stack directory.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(__dirname, "../..");
const TOKEN = "kbt_Secret-Token-0123456789abcdef";

describe("scripts/stack.sh and the bootstrap token", () => {
  let stack: string;
  beforeEach(() => {
    stack = mkdtempSync(join(tmpdir(), "kon-stack-"));
    writeFileSync(join(stack, "stack.env"), "# test\n");
  });
  afterEach(() => rmSync(stack, { recursive: true, force: true }));

  const firstAdmin = () =>
    spawnSync("bash", [join(REPO, "scripts/stack.sh"), "first-admin"], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        KON_STACK_DIR: stack,
        KON_STACK_MODE: "local",
        KON_PG_PASSWORD: "unused",
      },
    });

  it("first-admin prints the token file's path, never the token", () => {
    const secrets = join(stack, "secrets");
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, "admin-bootstrap-token"), `${TOKEN}\n`, { mode: 0o600 });
    const r = firstAdmin();
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      `first admin: sign up with the one-time bootstrap token in ${secrets}/admin-bootstrap-token (0600; not printed`,
    );
    expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
    expect(`${r.stdout}${r.stderr}`).not.toContain("Secret-Token");
  });

  it("first-admin says when there is no token", () => {
    const r = firstAdmin();
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/first admin: no bootstrap token in .*admin-bootstrap-token/);
  });

  it("no script or Makefile rule reads the token file (only its path is ever shown)", () => {
    const files = [
      join(REPO, "Makefile"),
      ...readdirSync(join(REPO, "scripts")).map((f) => join(REPO, "scripts", f)),
    ];
    for (const f of files) {
      expect({
        f,
        reads: /\b(cat|head|tail|less|more)\b[^\n]*admin-bootstrap-token/.test(
          readFileSync(f, "utf8"),
        ),
      }).toEqual({ f, reads: false });
    }
  });
});
