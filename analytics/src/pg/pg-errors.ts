/**
 * True when a PostgreSQL error says nothing about the rows themselves: the server is down,
 * restarting, overloaded, or the transaction lost a race. Such a batch is retried as is; any
 * other error means some row is bad, and the batch is split to find it.
 */
export function isTransientPgError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code ?? "";
  if (/^(08|53|57|58)/.test(code)) return true; // connection, resources, operator, system
  if (code === "40001" || code === "40P01") return true; // serialization failure, deadlock
  if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)$/.test(code)) return true;
  const msg = e?.message ?? String(err);
  return /Connection terminated|connection .*(closed|ended|refused)|timeout|not queryable|Client has encountered a connection error/i.test(
    msg,
  );
}

/** True for a unique-key violation (SQLSTATE 23505): a row with that key is stored already. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === "23505";
}
