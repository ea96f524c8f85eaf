/** Where the SDK and services log. Pass one of your own to route into your logging. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const consoleLogger: Logger = {
  info: (m) => console.log(`[konorkestra] ${m}`),
  warn: (m) => console.warn(`[konorkestra] ${m}`),
  error: (m) => console.error(`[konorkestra] ${m}`),
};

/** Discards everything (tests that assert on behaviour, not on log lines). */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
