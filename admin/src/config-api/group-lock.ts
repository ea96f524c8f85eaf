/**
 * One writer per group at a time in this process: a write's read-check-commit-wait sequence
 * (compare-and-set on the key's revision included) never interleaves with another's. Across
 * instances the commit itself is guarded by `update-ref` with the expected old HEAD.
 */
export class GroupLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(group: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(group) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const tail = mine.catch(() => undefined);
    this.tails.set(group, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(group) === tail) this.tails.delete(group);
    }
  }
}
