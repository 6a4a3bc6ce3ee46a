// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// a big-endian header (two zero bytes, a type code, the number of dimensions, then one
// uint32 per dimension) followed by the raw array. Files may be gzipped; gzip is recognised
// by its magic bytes, not by the file name, so a renamed file still reads.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface IdxArray {
  dims: number[];
  /** the raw payload: only unsigned-byte arrays (type 0x08) are needed by dsxplore */
  data: Uint8Array;
}

/** Why an IDX file could not be read; the caller turns it into a user-facing message. */
export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

const UBYTE = 0x08;

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Parse an IDX buffer (gzipped or not) holding unsigned bytes. */
export function parseIdx(input: Uint8Array): IdxArray {
  let buf = input;
  if (isGzip(buf)) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new IdxFormatError(`corrupt gzip stream (${(err as Error).message})`);
    }
  }
  if (buf.length < 4) throw new IdxFormatError(`file too short for an IDX header (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf[0] !== 0 || buf[1] !== 0) {
    const magic = view.getUint32(0, false).toString(16).padStart(8, '0');
    throw new IdxFormatError(`bad magic number 0x${magic} (an IDX file starts with 0x0000)`);
  }
  const type = buf[2]!;
  if (type !== UBYTE) {
    throw new IdxFormatError(`unsupported IDX element type 0x${type.toString(16)} (expected 0x08, unsigned byte)`);
  }
  const ndim = buf[3]!;
  if (ndim < 1) throw new IdxFormatError('IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    throw new IdxFormatError(`truncated header: ${ndim} dimensions need ${headerBytes} bytes, file has ${buf.length}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const payload = buf.length - headerBytes;
  if (payload < count) {
    throw new IdxFormatError(
      `truncated data: dimensions ${dims.join('x')} need ${count} bytes, file has ${payload}`,
    );
  }
  if (payload > count) {
    throw new IdxFormatError(
      `trailing data: dimensions ${dims.join('x')} need ${count} bytes, file has ${payload}`,
    );
  }
  return { dims, data: buf.subarray(headerBytes, headerBytes + count) };
}

export function readIdxFile(path: string): IdxArray {
  return parseIdx(readFileSync(path));
}

/** Serialise unsigned bytes as IDX (used by tests and to write fixtures). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeIdx: ${dims.join('x')} != ${data.length} bytes`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
