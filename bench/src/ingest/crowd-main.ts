// The API crowd of bench:ingest's crowd phase, as a process of its own (see crowd-process.ts).
// Argument: JSON {baseUrl, path, clients, headers}. Rounds of `clients` concurrent requests until
// stdin closes; then one JSON line on stdout: {latencies, rounds, retries, cpuSeconds,
// wallSeconds} (its own CPU from the first request to the last answer).
import { measureApiCrowd } from "./api-latency";

interface Spec {
  baseUrl: string;
  path: string;
  clients: number;
  headers: Record<string, string>;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
  let running = true;
  process.stdin.on("end", () => (running = false));
  process.stdin.on("close", () => (running = false));
  process.stdin.resume();
  const latencies: number[] = [];
  let rounds = 0;
  let retries = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  while (running) {
    const s = await measureApiCrowd(spec.baseUrl, spec.path, spec.clients, 1, spec.headers);
    latencies.push(...s.latencies);
    retries += s.retries;
    rounds++;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const wallSeconds = (performance.now() - wall0) / 1000;
  process.stdout.write(
    `${JSON.stringify({ latencies, rounds, retries, cpuSeconds, wallSeconds })}\n`,
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
