import { BatchCollector } from "../src/ingest/batch-collector";

describe("BatchCollector", () => {
  test("cuts a batch when it is full, and the rest after the wait", async () => {
    const batches: number[][] = [];
    const c = new BatchCollector<number>(3, 30, (b) => batches.push(b));
    for (let i = 1; i <= 5; i++) c.add(i);
    expect(batches).toEqual([[1, 2, 3]]);
    await new Promise((r) => setTimeout(r, 80));
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  test("takeAll hands back what was collected and cancels the timer", async () => {
    const batches: number[][] = [];
    const c = new BatchCollector<number>(10, 20, (b) => batches.push(b));
    c.add(1);
    c.add(2);
    expect(c.takeAll()).toEqual([1, 2]);
    await new Promise((r) => setTimeout(r, 50));
    expect(batches).toEqual([]);
    c.cut(); // nothing collected: no empty batch
    expect(batches).toEqual([]);
  });
});
