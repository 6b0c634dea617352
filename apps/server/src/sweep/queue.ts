// Sweeps on a distributed job queue: BullMQ on Redis. Each grid point is one job whose id is the
// hash of its resolved config, so re-submitting a sweep never runs a point twice; any number of
// `splitfleet worker` processes on any machines take jobs and run them with the same code path as a
// local sweep (runSweepPoint). Results travel back in the job's return value: no shared disk needed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import { writeJsonAtomic } from '../experiment/atomic.ts';
import { ConfigError } from '../experiment/config.ts';
import { parseResults, type RunResults } from '../experiment/results.ts';
import { runSweepPoint } from './sweep-point.ts';
import { isDone, type SweepPoint } from './sweep.ts';

export const QUEUE_NAME = 'splitfleet-sweep';

interface PointJobData {
  readonly point: SweepPoint;
}
interface PointJobResult {
  readonly results: RunResults;
  readonly worker: string;
}

/** BullMQ connection options from redis://[:password@]host:port[/db]. */
export function redisConnection(url: string): { host: string; port: number; password?: string; db?: number; maxRetriesPerRequest: null } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue must be a redis:// URL, got ${url}`);
  }
  if (u.protocol !== 'redis:') throw new ConfigError(`--queue must be a redis:// URL, got ${url}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname || '127.0.0.1', port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}), ...(db !== undefined ? { db } : {}),
    maxRetriesPerRequest: null,
  };
}

/** Enqueues the points not finished locally; a point already in the queue (same id) is not added twice. */
export async function submitSweep(url: string, points: readonly SweepPoint[], outDir: string, attempts = 3): Promise<{ queued: string[]; doneAlready: string[] }> {
  const q = new Queue<PointJobData, PointJobResult>(QUEUE_NAME, { connection: redisConnection(url) });
  try {
    const queued: string[] = [];
    const doneAlready: string[] = [];
    for (const p of points) {
      if (isDone(join(outDir, p.id)) || (await q.getJobState(p.id)) === 'completed') {
        doneAlready.push(p.id);
        continue;
      }
      await q.add('point', { point: p }, { jobId: p.id, attempts, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false });
      queued.push(p.id);
    }
    return { queued, doneAlready };
  } finally {
    await q.close();
  }
}

export type PointState = 'done' | 'completed' | 'active' | 'waiting' | 'delayed' | 'failed' | 'unknown' | string;

/** done = results gathered here; otherwise the job's state in the queue. */
export async function sweepStatus(url: string, points: readonly SweepPoint[], outDir: string): Promise<Map<string, { state: PointState; failedReason?: string; attempts: number }>> {
  const q = new Queue<PointJobData, PointJobResult>(QUEUE_NAME, { connection: redisConnection(url) });
  try {
    const out = new Map<string, { state: PointState; failedReason?: string; attempts: number }>();
    for (const p of points) {
      if (isDone(join(outDir, p.id))) {
        out.set(p.id, { state: 'done', attempts: 0 });
        continue;
      }
      const job = await q.getJob(p.id);
      out.set(p.id, job ? { state: await job.getState(), attempts: job.attemptsMade, ...(job.failedReason ? { failedReason: job.failedReason } : {}) } : { state: 'unknown', attempts: 0 });
    }
    return out;
  } finally {
    await q.close();
  }
}

/**
 * Waits until every point completed or failed for good, writing each finished point's results into
 * <outDir>/<id>/results.json as it arrives. Resolves with the ids that failed.
 */
export async function waitForSweep(url: string, points: readonly SweepPoint[], outDir: string, onChange?: (done: number, total: number, failed: string[]) => void): Promise<string[]> {
  const q = new Queue<PointJobData, PointJobResult>(QUEUE_NAME, { connection: redisConnection(url) });
  try {
    let lastDone = -1;
    for (;;) {
      let done = 0;
      const failed: string[] = [];
      for (const p of points) {
        const dir = join(outDir, p.id);
        if (isDone(dir)) {
          done++;
          continue;
        }
        const job = await q.getJob(p.id);
        const state = job ? await job.getState() : 'unknown';
        if (state === 'completed' && job?.returnvalue) {
          // results from a worker pass the schema before they land in the sweep directory
          writeJsonAtomic(join(dir, 'results.json'), parseResults({ ...job.returnvalue.results, ranOn: job.returnvalue.worker }, `job ${p.id}`));
          if (!existsSync(join(dir, 'config.json'))) writeJsonAtomic(join(dir, 'config.json'), p.config);
          done++;
        } else if (state === 'failed') failed.push(p.id);
        else if (state === 'unknown') throw new Error(`point ${p.id} is neither finished here nor in the queue: submit the sweep again`);
      }
      if (done !== lastDone) onChange?.(done, points.length, failed);
      lastDone = done;
      if (done + failed.length === points.length) return failed;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await q.close();
  }
}

export interface QueueWorkerOptions {
  /** Where this worker keeps its runs (training runs are reused between its jobs). */
  readonly outDir: string;
  /** A job whose worker stops renewing its lock for this long is handed to another worker. */
  readonly lockSeconds?: number;
  readonly name: string;
  readonly log?: (line: string) => void;
}

/** Takes jobs one at a time until closed. */
export function startQueueWorker(url: string, o: QueueWorkerOptions): Worker<PointJobData, PointJobResult> {
  const log = o.log ?? (() => {});
  const lock = (o.lockSeconds ?? 60) * 1000;
  const w = new Worker<PointJobData, PointJobResult>(
    QUEUE_NAME,
    async (job: Job<PointJobData, PointJobResult>) => {
      log(`job ${job.id} started (attempt ${job.attemptsMade + 1}) ${JSON.stringify(job.data.point.settings)}`);
      const results = await runSweepPoint(job.data.point, o.outDir, { quiet: true }, log);
      log(`job ${job.id} done`);
      return { results, worker: o.name };
    },
    { connection: redisConnection(url), concurrency: 1, lockDuration: lock, stalledInterval: Math.max(1000, lock / 2), maxStalledCount: 2 },
  );
  w.on('failed', (job, err) => log(`job ${job?.id} failed (attempt ${job?.attemptsMade}): ${err.message}`));
  w.on('error', (err) => log(`queue error: ${err.message}`));
  return w;
}
