// Image-folder datasets: scan the folder, decode what the cache does not already hold in
// parallel worker threads, and hand back uint8 tensors (in memory, or memory-mapped from
// the cache file when they exceed the memory budget).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { addon } from '../../engine/addon.js';
import { DatasetError } from '../errors.js';
import type { RawSplit } from '../types.js';
import {
  cacheKey,
  cachePath,
  CacheWriter,
  defaultCacheDir,
  defaultMemoryBudget,
  openCache,
  removeStaleTemps,
  type CachedSplit,
  type SkippedFile,
} from './cache.js';
import type { DecodeJob, DecodeReply } from './decode-worker.js';
import { scanImageFolder, type FolderSplit } from './scan.js';

export interface DecodeProgress {
  split: string;
  done: number;
  total: number;
}

export interface ImageFolderOptions {
  cacheDir?: string;
  /** bytes of decoded images held in memory; beyond it the cache file is memory-mapped */
  memoryBudget?: number;
  /** decoding threads (default: every core) */
  threads?: number;
  onProgress?: (p: DecodeProgress) => void;
  /** one line per skipped file, naming it */
  onWarning?: (message: string) => void;
  /** a memory map of a whole file (default: the addon's mapFile); used above the memory budget */
  mapFile?: (path: string) => ArrayBuffer;
}

export interface SplitSummary {
  split: string;
  count: number;
  skipped: SkippedFile[];
  /** images decoded by this load (0 when the cache held them) */
  decoded: number;
  cacheFile: string;
  mapped: boolean;
}

export interface ImageFolderData {
  classes: string[];
  train: RawSplit;
  test: RawSplit;
  summary: { train: SplitSummary; test: SplitSummary; decodeSeconds: number };
}

// Built, the worker is decode-worker.js beside this file. Run from the TypeScript sources
// (tests, tsx), the worker thread registers tsx itself before importing decode-worker.ts,
// since module hooks of the main thread do not reach worker threads.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./decode-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

function startWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(boot, { eval: true });
}

/** Decoding threads, started when the first split needs them and shared by both splits
 * (a thread takes a while to start: it loads sharp and libvips). */
class DecoderPool {
  private workers: Worker[] = [];
  constructor(private readonly size: number) {}

  get(): Worker[] {
    if (this.workers.length === 0) this.workers = Array.from({ length: this.size }, startWorker);
    return this.workers;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}

/** Decode `files` in order into `writer` with the pool's threads; returns the skipped. */
async function decodeInto(
  split: FolderSplit,
  size: number,
  writer: CacheWriter,
  opts: ImageFolderOptions,
  pool: DecoderPool,
): Promise<SkippedFile[]> {
  const files = split.files;
  const workers = pool.get();
  const nWorkers = workers.length;
  const skipped: SkippedFile[] = [];
  // replies arrive out of order; they are written in file order, holding at most a window
  const window = nWorkers * 8;
  const ready = new Map<number, DecodeReply>();
  let next = 0; // next job to hand out
  let written = 0; // next index to write
  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      const flush = () => {
        while (ready.has(written)) {
          const r = ready.get(written)!;
          ready.delete(written);
          const f = files[written]!;
          if (r.ok) writer.append(r.data, f.label);
          else {
            skipped.push({ file: f.rel, reason: r.error });
            opts.onWarning?.(`imagefolder: skipped ${f.path}: cannot decode it (${r.error})`);
          }
          written++;
          opts.onProgress?.({ split: split.split, done: written, total: files.length });
        }
      };
      const feed = (w: Worker) => {
        if (next < files.length && next - written < window) {
          const job: DecodeJob = { id: next, path: files[next]!.path, size };
          next++;
          w.postMessage(job);
          return true;
        }
        return false;
      };
      const idle: Worker[] = [];
      for (const w of workers) {
        w.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
        w.on('message', (r: DecodeReply) => {
          try {
            ready.set(r.id, r);
            flush();
            if (written === files.length) return resolveAll();
            if (!feed(w)) idle.push(w);
            while (idle.length && feed(idle[idle.length - 1]!)) idle.pop();
          } catch (err) {
            rejectAll(err);
          }
        });
        w.on('error', rejectAll);
        // a thread that dies without an error (killed) must not leave the load waiting forever
        w.on('exit', (code) => rejectAll(new Error(`a decoding thread exited (code ${code}) before ${split.dir} was decoded`)));
        if (!feed(w)) idle.push(w);
      }
      if (files.length === 0) resolveAll();
    });
  } catch (err) {
    await pool.close(); // replies of the failed split may still be in flight
    throw err;
  }
  return skipped;
}

async function loadSplit(
  root: string,
  classes: string[],
  split: FolderSplit,
  size: number,
  opts: ImageFolderOptions,
  pool: DecoderPool,
): Promise<{ data: RawSplit; summary: SplitSummary }> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const path = cachePath(cacheDir, root, split.split, size);
  const key = cacheKey(split, classes, size);
  const budget = opts.memoryBudget ?? defaultMemoryBudget();
  const map = (p: string): ArrayBuffer => (opts.mapFile ? opts.mapFile(p) : (addon().mapFile(p) as ArrayBuffer));
  let cached: CachedSplit | undefined = openCache(path, key, budget, map);
  let decoded = 0;
  if (!cached) {
    removeStaleTemps(path);
    const writer = new CacheWriter(path, { key, root, split: split.split, size, classes });
    let skipped: SkippedFile[];
    try {
      skipped = await decodeInto(split, size, writer, opts, pool);
      writer.finish(skipped);
    } catch (err) {
      writer.abort();
      throw err;
    }
    decoded = split.files.length;
    cached = openCache(path, key, budget, map);
    if (!cached) throw new Error(`internal: the cache file ${path} just written does not read back`);
  }
  const { header } = cached;
  if (header.count === 0) {
    throw new DatasetError(`imagefolder: no image of ${split.dir}/ could be decoded (${header.skipped.length} skipped)`, 'name');
  }
  for (let l = 0; l < classes.length; l++) {
    if (!cached.labels.includes(l)) {
      throw new DatasetError(`imagefolder: no image of class folder ${split.dir}/${classes[l]}/ could be decoded`, 'name');
    }
  }
  return {
    data: { count: header.count, shape: [3, size, size], images: cached.images, labels: cached.labels },
    summary: { split: split.split, count: header.count, skipped: header.skipped, decoded, cacheFile: path, mapped: cached.mapped },
  };
}

/** Load both splits of an image folder at `size` x `size`, decoding only what changed. */
export async function loadImageFolder(root: string, size: number, opts: ImageFolderOptions = {}): Promise<ImageFolderData> {
  const listing = scanImageFolder(root);
  const t0 = performance.now();
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), listing.train.files.length + listing.test.files.length));
  const pool = new DecoderPool(threads);
  let train, test;
  try {
    train = await loadSplit(root, listing.classes, listing.train, size, opts, pool);
    test = await loadSplit(root, listing.classes, listing.test, size, opts, pool);
  } finally {
    await pool.close();
  }
  return {
    classes: listing.classes,
    train: train.data,
    test: test.data,
    summary: { train: train.summary, test: test.summary, decodeSeconds: (performance.now() - t0) / 1000 },
  };
}

export { folderClasses, scanImageFolder, IMAGE_EXTENSIONS } from './scan.js';
export { defaultCacheDir, defaultMemoryBudget } from './cache.js';
