// How the CLI loads a dataset: dataset field names mapped to the flags the user typed, and
// image-folder decoding reported as a progress line on a terminal (a throttled JSON line
// otherwise) with a warning on stderr for each skipped file.
import { openDataset, withFieldNamesAsync, type DatasetField, type DecodeProgress, type ImageFolderOptions, type LoadOptions, type LoadedDatasets } from '../data/index.js';
import type { ProgressReporter } from '../report/progress.js';

/** The flag of each dataset field. */
export const DATASET_FLAGS: Partial<Record<DatasetField, string>> = {
  name: '--dataset',
  dataDir: '--data-dir',
  limitTrain: '--limit-train',
  limitTest: '--limit-test',
  validation: '--validation',
  inputSize: '--input-size',
};

function decodeReporting(reporter: ProgressReporter): ImageFolderOptions {
  let last = 0;
  const tty = reporter.mode === 'tty';
  return {
    onProgress: (p: DecodeProgress) => {
      const now = Date.now();
      const end = p.done === p.total;
      if (!end && now - last < (tty ? 100 : 1000)) return;
      last = now;
      if (tty) {
        const width = 30;
        const full = Math.round((width * p.done) / p.total);
        process.stdout.write(`\r\x1b[2Kdecoding ${p.split} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${p.done}/${p.total}${end ? '\n' : ''}`);
      } else if (reporter.mode === 'json') {
        process.stdout.write(`${JSON.stringify({ type: 'decode', ...p })}\n`);
      }
    },
    onWarning: (message: string) => {
      if (tty) process.stdout.write('\r\x1b[2K');
      process.stderr.write(`dsxplore: warning: ${message}\n`);
    },
  };
}

/** openDataset with CLI wording and reporting. */
export function loadForCli(ref: Parameters<typeof openDataset>[0], opts: LoadOptions, reporter: ProgressReporter): Promise<LoadedDatasets> {
  return withFieldNamesAsync(DATASET_FLAGS, () => openDataset(ref, { ...opts, imageFolder: { ...decodeReporting(reporter), ...opts.imageFolder } }));
}
