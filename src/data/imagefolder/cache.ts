// The decoded-image cache of an image folder: one file per split and input size, named by
// the folder and keyed by its listing (relative names, sizes, modification times) and the
// size, so a changed folder is decoded anew and an unchanged one never is.
//
// Layout: images [count, 3, S, S] uint8 from offset 0 (page-aligned, so the file can be
// memory-mapped and handed to the trainer as it is), then labels [count], then a JSON
// header, then a 16-byte trailer: header offset (u64 LE), header length (u32 LE), "DSXI".
// The trailer is written last and the file renamed into place, so a crash mid-write leaves
// no file that looks complete.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { FolderSplit } from './scan.js';

const MAGIC = 'DSXI';
const FORMAT = 1;
/** How images are decoded (decode-worker.ts): a change there must invalidate every cache. */
const DECODER = 'sharp cover-crop linear rgb v1';
const TRAILER = 16;

export interface SkippedFile {
  /** path relative to the split folder */
  file: string;
  reason: string;
}

export interface CacheHeader {
  format: number;
  key: string;
  root: string;
  split: string;
  size: number;
  count: number;
  classes: string[];
  skipped: SkippedFile[];
  labelsOffset: number;
}

/** Where caches live: $DSXPLORE_CACHE_DIR, else $XDG_CACHE_HOME/dsxplore, else ~/.cache/dsxplore. */
export function defaultCacheDir(): string {
  if (process.env.DSXPLORE_CACHE_DIR) return resolve(process.env.DSXPLORE_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'dsxplore');
}

/** Bytes of decoded images that are read into memory; larger caches are memory-mapped.
 * $DSXPLORE_DATA_MEMORY (bytes, or with a K/M/G suffix) overrides a quarter of the RAM. */
export function defaultMemoryBudget(): number {
  const raw = process.env.DSXPLORE_DATA_MEMORY;
  if (raw) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(raw);
    if (m) return Math.floor(Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!);
  }
  return Math.floor(totalmem() / 4);
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The key of a split's decoded form: format, size, class names and every file's identity. */
export function cacheKey(split: FolderSplit, classes: string[], size: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ format: FORMAT, decoder: DECODER, size, classes, split: split.split }));
  for (const f of split.files) h.update(`\n${f.rel}\0${f.size}\0${f.mtimeMs}`);
  return h.digest('hex');
}

/** The cache file of a split: named by the folder, split and size; the key is inside. */
export function cachePath(cacheDir: string, root: string, split: string, size: number): string {
  return join(cacheDir, `imagefolder-${sha(resolve(root)).slice(0, 16)}-${split}-${size}.dsxi`);
}

export interface CachedSplit {
  header: CacheHeader;
  images: Uint8Array;
  labels: Uint8Array;
  /** the images are a memory map of the file rather than a copy in memory */
  mapped: boolean;
}

/** Read the header of a cache file; undefined when absent, incomplete or another format. */
export function readHeader(path: string): CacheHeader | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < TRAILER) return undefined;
    const t = Buffer.alloc(TRAILER);
    readSync(fd, t, 0, TRAILER, size - TRAILER);
    if (t.toString('latin1', 12, 16) !== MAGIC) return undefined;
    const at = Number(t.readBigUInt64LE(0));
    const len = t.readUInt32LE(8);
    if (at + len + TRAILER !== size) return undefined;
    const hb = Buffer.alloc(len);
    readSync(fd, hb, 0, len, at);
    const header = JSON.parse(hb.toString('utf8')) as CacheHeader;
    return header.format === FORMAT ? header : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Open a complete cache file whose key matches; images read whole or memory-mapped. */
export function openCache(
  path: string,
  key: string,
  budget: number,
  mapFile: (path: string) => ArrayBuffer,
): CachedSplit | undefined {
  const header = readHeader(path);
  if (!header || header.key !== key) return undefined;
  const bytes = header.count * 3 * header.size * header.size;
  const labels = Buffer.alloc(header.count);
  let images: Uint8Array;
  let mapped = false;
  const fd = openSync(path, 'r');
  try {
    readSync(fd, labels, 0, header.count, header.labelsOffset);
    if (bytes > budget) {
      images = new Uint8Array(mapFile(path), 0, bytes);
      mapped = true;
    } else {
      images = new Uint8Array(bytes);
      for (let done = 0; done < bytes; ) {
        const n = readSync(fd, images, done, Math.min(bytes - done, 1 << 30), done);
        if (n <= 0) return undefined;
        done += n;
      }
    }
  } finally {
    closeSync(fd);
  }
  return { header, images, labels: new Uint8Array(labels), mapped };
}

/** Writes a cache file image by image (in order), then labels, header and trailer. */
export class CacheWriter {
  private fd: number;
  private readonly tmp: string;
  private offset = 0;
  private readonly labels: number[] = [];

  constructor(
    readonly path: string,
    private readonly header: Omit<CacheHeader, 'count' | 'skipped' | 'labelsOffset' | 'format'>,
  ) {
    mkdirSync(join(path, '..'), { recursive: true });
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
  }

  append(image: Uint8Array, label: number): void {
    for (let done = 0; done < image.length; ) done += writeSync(this.fd, image, done, image.length - done, this.offset + done);
    this.offset += image.length;
    this.labels.push(label);
  }

  /** Complete the file and move it into place; returns the header written. */
  finish(skipped: SkippedFile[]): CacheHeader {
    const header: CacheHeader = {
      format: FORMAT,
      ...this.header,
      count: this.labels.length,
      skipped,
      labelsOffset: this.offset,
    };
    writeSync(this.fd, Uint8Array.from(this.labels), 0, this.labels.length, this.offset);
    const hb = Buffer.from(JSON.stringify(header), 'utf8');
    const at = this.offset + this.labels.length;
    writeSync(this.fd, hb, 0, hb.length, at);
    const t = Buffer.alloc(TRAILER);
    t.writeBigUInt64LE(BigInt(at), 0);
    t.writeUInt32LE(hb.length, 8);
    t.write(MAGIC, 12, 'latin1');
    writeSync(this.fd, t, 0, TRAILER, at + hb.length);
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.tmp, this.path);
    return header;
  }

  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.tmp, { force: true });
  }
}

/** Remove temporary files a killed run left beside `path`. */
export function removeStaleTemps(path: string): void {
  const dir = join(path, '..');
  if (!existsSync(dir)) return;
  const base = path.slice(dir.length + 1);
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${base}.tmp-`)) continue;
    const pid = Number(f.slice(base.length + 5));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {
      alive = false;
    }
    if (!alive) rmSync(join(dir, f), { force: true });
  }
}
