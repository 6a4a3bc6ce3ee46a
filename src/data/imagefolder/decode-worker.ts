// A decoding thread: takes {id, path, size} messages, answers with the image as CHW uint8
// RGB at size x size (shorter side resized to `size`, centre crop), or with the reason it
// could not be decoded. One libvips thread per worker: the pool supplies the parallelism.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';

export interface DecodeJob {
  id: number;
  path: string;
  size: number;
}

export type DecodeReply = { id: number; ok: true; data: Uint8Array } | { id: number; ok: false; error: string };

sharp.concurrency(1);
sharp.cache(false);

/** Decode one file to CHW RGB bytes. Exported for tests of the pixel conventions. */
export async function decodeImage(path: string, size: number): Promise<Uint8Array> {
  // failOn 'warning': a truncated JPEG or a damaged PNG is an error, not a half-grey image
  let input = sharp(path, { failOn: 'warning' });
  if ((await input.metadata()).hasAlpha) {
    // PIL's convert('RGB') drops alpha and keeps the colour values; sharp would resize with
    // premultiplied alpha and lose them where alpha is low, so alpha goes before the resize
    const flat = await input.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    input = sharp(flat.data, { raw: { width: flat.info.width, height: flat.info.height, channels: flat.info.channels } });
  }
  const { data, info } = await input
    // bilinear with antialiasing, as torchvision's default Resize on PIL images
    .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'linear' })
    // greyscale becomes three equal channels, as PIL's convert('RGB')
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || (info.channels !== 3 && info.channels !== 1)) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  const plane = size * size;
  const out = new Uint8Array(3 * plane);
  const ch = info.channels;
  for (let c = 0; c < 3; c++) {
    const src = ch === 1 ? 0 : c;
    for (let i = 0; i < plane; i++) out[c * plane + i] = data[i * ch + src]!;
  }
  return out;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: DecodeJob) => {
    decodeImage(job.path, job.size).then(
      (data) => port.postMessage({ id: job.id, ok: true, data } satisfies DecodeReply, [data.buffer as ArrayBuffer]),
      (err: Error) => port.postMessage({ id: job.id, ok: false, error: err.message.split('\n')[0] } satisfies DecodeReply),
    );
  });
}
