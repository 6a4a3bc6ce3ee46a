// The layout of an image-folder dataset, as torchvision's ImageFolder reads it:
// ROOT/train/CLASS/**/*.{jpg,jpeg,png,webp} and ROOT/val/CLASS/... (or ROOT/test/...),
// classes sorted by name, files sorted by path. Only names, sizes and modification times
// are read here (they key the decoded cache); nothing is decoded.
import { existsSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { DatasetError } from '../errors.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
export const TRAIN_SPLIT = 'train';
export const EVAL_SPLITS = ['val', 'test'];

export interface ImageFile {
  /** absolute path */
  path: string;
  /** relative to the split folder, e.g. "cat/001.jpg" */
  rel: string;
  label: number;
  size: number;
  mtimeMs: number;
}

export interface FolderSplit {
  /** e.g. "train" or "val" */
  split: string;
  dir: string;
  files: ImageFile[];
}

export interface FolderListing {
  root: string;
  classes: string[];
  train: FolderSplit;
  test: FolderSplit;
}

const HOW = 'an image folder holds train/CLASS/*.jpg (or .jpeg, .png, .webp) and val/CLASS/... (or test/CLASS/...), one subfolder per class';

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new DatasetError(`imagefolder: cannot read ${dir}: ${(err as Error).message}`, 'name');
  }
}

function isDir(dir: string, e: Dirent): boolean {
  if (e.isDirectory()) return true;
  // a symlinked class folder counts, as torchvision follows links
  return e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isDirectory() === true;
}

/** Sorted class folder names of one split folder (code-point order, as Python's sorted()). */
function classFolders(dir: string): string[] {
  return entries(dir)
    .filter((e) => isDir(dir, e) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function splitDirs(root: string): { train: string; test: string; testName: string } {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new DatasetError(`imagefolder: ${root} is not a folder; ${HOW}`, 'name');
  }
  const train = join(root, TRAIN_SPLIT);
  if (!existsSync(train)) throw new DatasetError(`imagefolder: missing ${train}/; ${HOW}`, 'name');
  const testName = EVAL_SPLITS.find((s) => existsSync(join(root, s)));
  if (!testName) {
    throw new DatasetError(`imagefolder: missing ${join(root, 'val')}/ (or ${join(root, 'test')}/); ${HOW}`, 'name');
  }
  return { train, test: join(root, testName), testName };
}

/** The class names of an image folder, checked to agree between train/ and val/ (cheap:
 * reads two directory listings). */
export function folderClasses(root: string): string[] {
  const { train, test } = splitDirs(root);
  const classes = classFolders(train);
  if (classes.length === 0) throw new DatasetError(`imagefolder: ${train}/ has no class folders; ${HOW}`, 'name');
  if (classes.length > 256) {
    throw new DatasetError(`imagefolder: ${train}/ has ${classes.length} class folders; at most 256 are supported (labels are bytes)`, 'name');
  }
  const other = classFolders(test);
  const missing = classes.filter((c) => !other.includes(c));
  const extra = other.filter((c) => !classes.includes(c));
  if (missing.length || extra.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (extra.length) parts.push(`not in ${train}/: ${extra.join(', ')}`);
    throw new DatasetError(`imagefolder: the classes of ${test}/ differ from those of ${train}/ (${parts.join('; ')})`, 'name');
  }
  return classes;
}

function listImages(dir: string, splitDir: string, label: number, out: ImageFile[]): void {
  const list = entries(dir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of list) {
    const path = join(dir, e.name);
    if (isDir(dir, e)) {
      listImages(path, splitDir, label, out);
      continue;
    }
    if (!IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) continue;
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st || !st.isFile()) continue;
    out.push({ path, rel: relative(splitDir, path), label, size: st.size, mtimeMs: st.mtimeMs });
  }
}

function scanSplit(dir: string, split: string, classes: string[]): FolderSplit {
  const files: ImageFile[] = [];
  classes.forEach((c, label) => {
    const before = files.length;
    listImages(join(dir, c), dir, label, files);
    if (files.length === before) {
      throw new DatasetError(`imagefolder: class folder ${join(dir, c)}/ has no images (${IMAGE_EXTENSIONS.join(', ')})`, 'name');
    }
  });
  return { split, dir, files };
}

/** Every image file of both splits, with sizes and modification times. */
export function scanImageFolder(root: string): FolderListing {
  const classes = folderClasses(root);
  const { train, test, testName } = splitDirs(root);
  return { root, classes, train: scanSplit(train, TRAIN_SPLIT, classes), test: scanSplit(test, testName, classes) };
}
