import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** One realistic config file (~5.5 KB of YAML): nested maps, lists, strings, numbers. */
export function serviceYaml(i: number, version: number): string {
  const lines = [`service: svc-${i}`, `version: ${version}`, "replicas: 3", "settings:"];
  for (let k = 0; k < 95; k++) {
    lines.push(`  option_${k}:`, `    enabled: ${k % 2 === 0}`, `    limit: ${k * 10 + i}`);
  }
  lines.push("endpoints:");
  for (let k = 0; k < 12; k++) {
    lines.push(
      `  - {name: ep-${k}, url: "https://svc-${i}.internal/v1/ep-${k}", timeout_ms: 2500}`,
    );
  }
  lines.push(
    "description: >",
    `  Service ${i} of the benchmark fleet; a folded text that runs on`,
    "  for a line or two like real descriptions do.",
  );
  return lines.join("\n") + "\n";
}

/** Writes `files` service files into `<root>/<group>/`; returns their total size in bytes. */
export async function writeGroup(
  root: string,
  group: string,
  files: number,
  version = 1,
): Promise<number> {
  await mkdir(join(root, group), { recursive: true });
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const text = serviceYaml(i, version);
    bytes += Buffer.byteLength(text);
    await writeFile(join(root, group, `svc-${i}.yaml`), text);
  }
  return bytes;
}

/** Reads the group's files back (the I/O floor of a full re-read). */
export async function readGroup(root: string, group: string, files: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < files; i++) out.push(await readFile(join(root, group, `svc-${i}.yaml`)));
  return out;
}

/** A YAML file of `size` bytes with as many short keys as fit (about 100,000 in 1 MiB). */
export function manyKeysYaml(size: number): { text: string; keys: number } {
  let text = "";
  let keys = 0;
  while (text.length < size - 16) text += `k${keys++}: ${keys % 10}\n`;
  return { text, keys };
}
