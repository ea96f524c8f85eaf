import express from "express";
import type { Express } from "express";
import type { LiveConfig } from "../live-config";
import type { PoolManager } from "./pool-manager";
import type { Service3Config } from "./service3-config";

/** service3: a small notes API on PostgreSQL; the pool comes from a PoolManager. */
export function createService3App(config: LiveConfig<Service3Config>, pools: PoolManager): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(express.json({ limit: "16kb" }));

  app.get("/v1/db", async (_req, res) => {
    const { rows } = await pools.current.query<{ db: string }>("SELECT current_database() AS db");
    res.json({
      database: rows[0]?.db,
      poolGeneration: pools.generation,
      error: pools.error ?? null,
    });
  });

  app.get("/v1/notes", async (_req, res) => {
    await ensureSchema(pools);
    const { rows } = await pools.current.query(
      "SELECT id, body FROM notes ORDER BY id DESC LIMIT $1",
      [config.value.pageSize],
    );
    res.json({ notes: rows });
  });

  app.post("/v1/notes", async (req, res) => {
    const body: unknown = (req.body as { body?: unknown } | undefined)?.body;
    if (typeof body !== "string" || body.length === 0 || body.length > 1000) {
      res
        .status(400)
        .json({ error: "bad_request", reason: "body must be a string of 1-1000 characters" });
      return;
    }
    await ensureSchema(pools);
    const { rows } = await pools.current.query(
      "INSERT INTO notes (body) VALUES ($1) RETURNING id",
      [body],
    );
    res.status(201).json(rows[0]);
  });

  return app;
}

async function ensureSchema(pools: PoolManager): Promise<void> {
  await pools.current.query(
    "CREATE TABLE IF NOT EXISTS notes (id bigserial PRIMARY KEY, body text NOT NULL)",
  );
}
