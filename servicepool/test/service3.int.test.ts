import { startService3 } from "../src/service3/service3";
import type { RunningService3 } from "../src/service3/service3";
import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import { ConfigPlane, eventually, http } from "./helpers/config-plane";

function configFor(db: PostgresDatabase, pageSize: number, port = db.port): string {
  return [
    "database:",
    `  host: ${db.host}`,
    `  port: ${port}`,
    `  database: ${db.database}`,
    `  user: ${db.user}`,
    "  maxConnections: 3",
    `pageSize: ${pageSize}`,
    "",
  ].join("\n");
}

describe("service3: the pg pool is rebuilt only when the database slice changes", () => {
  let a: PostgresDatabase;
  let b: PostgresDatabase;
  let plane: ConfigPlane;
  let svc: RunningService3;

  beforeAll(async () => {
    [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    plane = await ConfigPlane.start("sp3", { service3: configFor(a, 50) });
    svc = await startService3(await plane.connect("service3-a"), 0);
  });
  afterAll(async () => {
    await svc?.close();
    await plane?.stop();
    await a?.stop();
    await b?.stop();
  });

  it("reads and writes database A", async () => {
    expect(
      (await http(svc.port, "/v1/notes", { method: "POST", body: { body: "in A" } })).status,
    ).toBe(201);
    expect((await http(svc.port, "/v1/db")).body).toMatchObject({
      database: a.database,
      poolGeneration: 1,
    });
  });

  it("keeps the pool when only pageSize changes", async () => {
    const rev = (await http(svc.port, "/healthz")).body.configRevision as number;
    plane.write("service3", configFor(a, 1));
    await eventually(
      "new revision",
      async () => (await http(svc.port, "/healthz")).body.configRevision,
      (r) => (r as number) > rev,
    );
    expect((await http(svc.port, "/v1/db")).body.poolGeneration).toBe(1);
  });

  it("switches to database B with a new pool when the database changes", async () => {
    plane.write("service3", configFor(b, 1));
    const db = await eventually(
      "database B",
      async () => (await http(svc.port, "/v1/db")).body,
      (d) => d.database === b.database,
    );
    expect(db.poolGeneration).toBe(2);
    expect((await http(svc.port, "/v1/notes")).body).toEqual({ notes: [] });
  });

  it("keeps the working pool when the new database is unreachable", async () => {
    const rev = (await http(svc.port, "/healthz")).body.configRevision as number;
    plane.write("service3", configFor(b, 1, 1));
    await eventually(
      "bad revision seen",
      async () => (await http(svc.port, "/healthz")).body.configRevision,
      (r) => (r as number) > rev,
    );
    const db = await eventually(
      "error reported",
      async () => (await http(svc.port, "/v1/db")).body,
      (d) => d.error !== null,
      10_000,
    );
    expect(db).toMatchObject({ database: b.database, poolGeneration: 2 });
    expect(String(db.error)).toMatch(/unusable, keeping the previous pool/);
  });
});
