// The echo function the benchmark deploys (Node.js): returns its event. `probe` reports whether the worker is reused.
import { threadId } from 'node:worker_threads';

let count = 0;

export const handler = async (event) => event;

export const probe = async () => {
  count += 1;
  return { pid: process.pid, threadId, count };
};
