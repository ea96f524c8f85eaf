import { z } from "zod";

/** Config key `service3`: the database the service reads and how many rows a page has. */
export const Service3Config = z.object({
  database: z.object({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: z.string().optional(),
    maxConnections: z.number().int().min(1).max(100).default(5),
  }),
  pageSize: z.number().int().min(1).max(1000).default(50),
});
export type Service3Config = z.infer<typeof Service3Config>;
export type DatabaseConfig = Service3Config["database"];
