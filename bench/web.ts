// The web page's weight and first render (issue 20). Builds the page (as `npm run build` does),
// serves it with the service on the shipped matrix imported into a temp database, and loads it in
// Debian's chromium (headless, through playwright-core) --runs times in a fresh browser context
// (cold: nothing cached) and as many times again in one context (warm: the hashed assets cached).
// First render = from the start of navigation to the page's `advisor:first-render` mark: the
// default question answered and its answer, curves and heatmap drawn. Prints one JSON line per
// load and a summary with the medians, the page weight (script + style sheet, gzip) and the load
// average of the machine, since on a shared machine the figures move with it, and the CPU time
// the browser and the service spent on each load, which does not.
//   npm run bench:web -- [--runs 7]
import { readdir, readFile } from "node:fs/promises";
import os from "node:os";
import { parseArgs } from "node:util";
import type { BrowserContext } from "playwright-core";
import { describeBuild } from "../web/build.js";
import { builtPage, CHROMIUM, launchChromium, noBrowser, startSite } from "../test/web/helpers.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "7" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs: a positive integer, got ${values.runs}`);
  process.exit(2);
}
if (noBrowser) {
  console.error(`bench:web needs chromium: ${noBrowser}`);
  process.exit(2);
}

interface Load {
  firstRender: number;
  domContentLoaded: number;
  ready: number;
  transferredKB: number;
  /** CPU time the browser's processes used for the load (all of them: renderer, GPU, network), ms. */
  browserCpu: number;
  /** CPU time of this process — the service answering, and the driver — during the load, ms. */
  serviceCpu: number;
}

/**
 * CPU time (user + system, ms) of this process's descendants — the browser — from /proc. On a
 * shared machine wall times stretch with the load average; CPU time says what the load costs.
 */
async function browserCpuMs(): Promise<number> {
  const entries = await readdir("/proc").catch(() => [] as string[]);
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await readFile(`/proc/${e}/stat`, "utf8").catch(() => null);
    if (!stat) continue;
    // Fields after the command name (which may hold spaces) in parentheses.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    parent.set(Number(e), Number(f[1]));
    ticks.set(Number(e), Number(f[11]) + Number(f[12]));
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        total += t;
        break;
      }
    }
  }
  return total * 10; // USER_HZ = 100 on Linux
}

async function load(context: BrowserContext, url: string): Promise<Load> {
  const page = await context.newPage();
  const cpu0 = await browserCpuMs();
  const own0 = process.cpuUsage();
  const start = Date.now();
  await page.goto(url);
  await page.waitForSelector("body[data-state=ready]", { timeout: 60_000 });
  const ready = Date.now() - start;
  const own = process.cpuUsage(own0);
  const browserCpu = (await browserCpuMs()) - cpu0;
  const timing = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const mark = performance.getEntriesByName("advisor:first-render")[0];
    const assets = performance.getEntriesByType("resource").filter((e) => /\\/assets\\//.test(e.name));
    return { firstRender: mark ? mark.startTime : -1, domContentLoaded: nav.domContentLoadedEventEnd, transferred: assets.reduce((s, e) => s + e.transferSize, 0) };
  })()`)) as { firstRender: number; domContentLoaded: number; transferred: number };
  await page.close();
  return { firstRender: Math.round(timing.firstRender), domContentLoaded: Math.round(timing.domContentLoaded), ready, transferredKB: Math.round(timing.transferred / 102.4) / 10, browserCpu, serviceCpu: Math.round((own.user + own.system) / 1000) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const { build } = await builtPage();
console.log(describeBuild(build));
const loadBefore = os.loadavg()[0]!;
const [site, browser] = await Promise.all([startSite(), launchChromium()]);
try {
  const cold: Load[] = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const l = await load(context, `${site.baseUrl}/`);
    await context.close();
    cold.push(l);
    console.log(JSON.stringify({ load: "cold", run: i + 1, ...l }));
  }
  const warm: Load[] = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await load(context, `${site.baseUrl}/`); // fills the cache
  for (let i = 0; i < runs; i++) {
    const l = await load(context, `${site.baseUrl}/`);
    warm.push(l);
    console.log(JSON.stringify({ load: "warm", run: i + 1, ...l }));
  }
  await context.close();
  const weight = build.files.filter((f) => f.name.startsWith("assets/")).reduce((s, f) => s + f.gzipBytes, 0);
  console.log(
    JSON.stringify({
      summary: "first render (ms, median)",
      cold: median(cold.map((l) => l.firstRender)),
      warm: median(warm.map((l) => l.firstRender)),
      coldReady: median(cold.map((l) => l.ready)),
      coldBrowserCpu: median(cold.map((l) => l.browserCpu)),
      coldServiceCpu: median(cold.map((l) => l.serviceCpu)),
      pageWeightKB: Math.round(weight / 102.4) / 10,
      coldTransferredKB: median(cold.map((l) => l.transferredKB)),
      runs,
      chromium: `${CHROMIUM} ${browser.version()}`,
      cpus: os.cpus().length,
      loadAverage: { before: Math.round(loadBefore * 10) / 10, after: Math.round(os.loadavg()[0]! * 10) / 10 },
    }),
  );
} finally {
  await browser.close();
  await site.close();
}
