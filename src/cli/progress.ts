// A progress bar on stderr (cli-progress) that stays quiet when stderr is not a terminal,
// where it prints one line per epoch instead so logs stay readable.
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, fields: Record<string, string | number>): void;
  line(text: string): void;
  stop(): void;
}

export function progressBar(total: number, format: string): Progress {
  if (!process.stderr.isTTY) {
    return {
      update: () => undefined,
      line: (text) => process.stderr.write(text + "\n"),
      stop: () => undefined,
    };
  }
  // A MultiBar holding one bar, because only MultiBar can print lines above the bar.
  const multi = new cliProgress.MultiBar(
    { format, stream: process.stderr, etaBuffer: 50, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(total, 0, {});
  return {
    update: (done, fields) => bar.update(done, fields),
    line: (text) => multi.log(text + "\n"),
    stop: () => multi.stop(),
  };
}
