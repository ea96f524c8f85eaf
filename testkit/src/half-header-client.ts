import { connect } from "node:net";

/** What a {@link halfHeaderClient} saw. */
export interface HalfHeaderOutcome {
  /** When the server hung up, in ms after the connect; undefined if it still held on at `giveUpMs`. */
  closedAfterMs: number | undefined;
  /** What the server wrote before hanging up (e.g. a 408). */
  answer: string;
}

/**
 * A slow client: connects to `url`, sends half a header line of `GET <path>` and then nothing.
 * Resolves when the server hangs up, or after `giveUpMs` (then it hangs up itself). For tests of
 * a server's header timeout.
 */
export function halfHeaderClient(
  url: string,
  giveUpMs: number,
  path = "/healthz",
): Promise<HalfHeaderOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = "";
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nX-Slow: aaa`);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: undefined, answer });
    }, giveUpMs);
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, answer });
    });
  });
}
