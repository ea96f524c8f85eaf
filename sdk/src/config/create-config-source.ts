import type { ConfigHost } from "./config-host";
import type { ConfigSink, ConfigSource } from "./config-source";
import { FileConfigSource } from "./file-config-source";
import { NatsConfigSource } from "./nats-config-source";
import type { WatchTiming } from "./nats-config-watch";

/** The source `host.options.configSource` names: `file:<dir>` a folder, else NATS. */
export function createConfigSource(
  host: ConfigHost,
  sink: ConfigSink,
  timing: Partial<WatchTiming> = {},
): ConfigSource {
  const source = host.options.configSource;
  if (source.startsWith("file:")) {
    return new FileConfigSource(
      source.slice("file:".length),
      host.group,
      sink,
      host.logger,
      host.options.maxValueBytes,
    );
  }
  return new NatsConfigSource(host, sink, timing);
}
