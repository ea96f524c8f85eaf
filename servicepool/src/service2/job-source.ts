/** Where the worker gets jobs. A job is a function that does the work. */
export interface JobSource {
  /** Up to `max` jobs, or none when the queue is empty. */
  poll(max: number): Promise<Job[]>;
}

export type Job = () => Promise<void>;

/** An in-process queue (the example's source; a real one would poll a broker or a table). */
export class MemoryJobSource implements JobSource {
  private readonly queue: Job[] = [];
  polls = 0;

  push(...jobs: Job[]): void {
    this.queue.push(...jobs);
  }

  get pending(): number {
    return this.queue.length;
  }

  poll(max: number): Promise<Job[]> {
    this.polls++;
    return Promise.resolve(this.queue.splice(0, max));
  }
}
