import { parseAdminOptions } from "../src/options";

describe("admin options", () => {
  it("defaults: port 7004, loopback, secrets under .stack/secrets, OWASP argon2 cost", () => {
    const o = parseAdminOptions({}, {});
    expect(o).toMatchObject({
      port: 7004,
      host: "127.0.0.1",
      signingKeyFile: ".stack/secrets/admin-signing-key.pem",
      bootstrapTokenFile: ".stack/secrets/admin-bootstrap-token",
      argon2MemoryKib: 19_456,
      argon2TimeCost: 2,
      sessionTtlMs: 900_000,
    });
  });

  it("reads KON_* variables", () => {
    const o = parseAdminOptions(
      {},
      {
        KON_ADMIN_PORT: "7100",
        KON_PG_URL: "postgres://a@b/c",
        KON_ADMIN_SIGNING_KEY_FILE: "/s/k.pem",
        KON_ADMIN_BOOTSTRAP_FILE: "/s/b",
        KON_JOIN_KEY_GRACE_MS: "5000",
      },
    );
    expect(o).toMatchObject({
      port: 7100,
      pgUrl: "postgres://a@b/c",
      signingKeyFile: "/s/k.pem",
      bootstrapTokenFile: "/s/b",
      joinKeyGraceMs: 5000,
    });
  });

  it.each([
    [{ KON_ADMIN_PORT: "70000" }, /port/],
    [{ KON_PG_URL: "mysql://x" }, /pgUrl/],
    [{ KON_ADMIN_ARGON2_MEMORY_KIB: "8" }, /argon2MemoryKib/],
    [{ KON_ADMIN_SESSION_TTL_MS: "12ms" }, /sessionTtlMs/],
  ])("names the bad field: %o", (env, field) => {
    expect(() => parseAdminOptions({}, env)).toThrow(field);
  });
});
