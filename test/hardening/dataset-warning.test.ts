// Issue 16, item 7: a service whose data set directory is missing (node:20-slim has no
// Fashion-MNIST) answered 503 to every upload and refresh with no word at start-up. It now says
// so once, as one warn line naming the data set, the directory and what is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startService } from "../helpers/cli.js";

interface LogLine {
  level: number;
  msg: string;
  datasets?: { name: string; dir: string; problem: string }[];
}

async function startupLogs(datasets: string): Promise<LogLine[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-dsw-"));
  const svc = await startService(["--db", path.join(dir, "advisor.sqlite"), "--datasets", datasets]);
  try {
    return svc
      .logs()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
  } finally {
    svc.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

const disabled = (lines: LogLine[]) => lines.filter((l) => l.level === 40 && /uploads .* and refreshes are disabled/.test(l.msg));

test("start-up warns once when a configured data set directory is missing or incomplete", async () => {
  const partial = await mkdtemp(path.join(os.tmpdir(), "advisor-idx-"));
  try {
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte"]) await writeFile(path.join(partial, f), "");
    const missingDir = path.join(partial, "no-such-dir");
    const warned = disabled(await startupLogs(`fashion-mnist=${missingDir},other=${partial}`));
    assert.equal(warned.length, 1, "one warn line, not one per request or per data set");
    const line = warned[0]!;
    assert.match(line.msg, /fashion-mnist \(data directory .*no-such-dir not found\)/);
    assert.match(line.msg, /other \(.* lacks t10k-labels-idx1-ubyte\[\.gz\]\)/);
    assert.match(line.msg, /dataset-fashion-mnist/, "says how to get the data set");
    assert.deepEqual(
      line.datasets?.map((d) => [d.name, d.dir]),
      [
        ["fashion-mnist", missingDir],
        ["other", partial],
      ],
    );
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
});

test("no warning when every data set directory holds the four IDX files", async () => {
  const full = await mkdtemp(path.join(os.tmpdir(), "advisor-idx-"));
  try {
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"]) await writeFile(path.join(full, f), "");
    const lines = await startupLogs(`fashion-mnist=${full}`);
    assert.ok(lines.some((l) => l.msg === "listening"));
    assert.deepEqual(disabled(lines), []);
  } finally {
    await rm(full, { recursive: true, force: true });
  }
});
