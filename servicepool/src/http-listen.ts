import type { Server } from "node:http";
import type { Express } from "express";

/** A listening HTTP server and its real port (port 0 picks a free one). */
export interface Listening {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export function listen(app: Express, port: number, host = "127.0.0.1"): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => {
      if (err) return reject(err);
      const addr = server.address();
      resolve({
        server,
        port: typeof addr === "object" && addr ? addr.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
