// The web page's weight and first render (issue 20). Builds the page (as `npm run build` does),
// serves it with the service on the shipped matrix imported into a temp database, and loads it in
// Debian's chromium (headless, through playwright-core), --runs times cold (the browser's cache
// emptied first) and as many times warm (the hashed assets cached) in one tab, then --runs times
// in a new tab each (cache emptied).
// First render = from the start of navigation to the page's `advisor:first-render` mark: the
// default question answered and its answer, curves and heatmap drawn. Prints one JSON line per
// load and a summary with the medians, the page weight (script + style sheet, gzip), the time the
// page's main thread was busy (script, layout), and the load average of the machine, since on a
// shared machine the wall times move with it.
//   npm run bench:web -- [--runs 7]
import os from "node:os";
import { parseArgs } from "node:util";
import type { CDPSession, Page } from "playwright-core";
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
  /** Building the answer's and the charts' elements (the page's own measures). */
  drawAnswer: number;
  drawCharts: number;
  /** The page's main thread (Chrome's Performance metrics): all its tasks, script, layout (ms). */
  mainThread: number;
  script: number;
  layout: number;
}

/** Opens the page in the tab (from about:blank); `cold` empties the browser's cache first. */
async function load(page: Page, cdp: CDPSession, url: string, cold: boolean): Promise<Load> {
  await page.goto("about:blank");
  if (cold) await cdp.send("Network.clearBrowserCache");
  await cdp.send("Performance.disable");
  await cdp.send("Performance.enable");
  const start = Date.now();
  await page.goto(url);
  await page.waitForSelector("body[data-state=ready]", { timeout: 60_000 });
  const ready = Date.now() - start;
  const { metrics } = await cdp.send("Performance.getMetrics");
  const m = new Map(metrics.map((x) => [x.name, x.value]));
  const ms = (name: string) => Math.round((m.get(name) ?? 0) * 1000);
  const timing = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const mark = performance.getEntriesByName("advisor:first-render")[0];
    const assets = performance.getEntriesByType("resource").filter((e) => e.name.includes("/assets/"));
    const measured = (name) => performance.getEntriesByName(name).reduce((s, e) => s + e.duration, 0);
    return { firstRender: mark ? mark.startTime : -1, domContentLoaded: nav.domContentLoadedEventEnd, transferred: assets.reduce((s, e) => s + e.transferSize, 0), drawAnswer: measured("advisor:draw-answer"), drawCharts: measured("advisor:draw-charts") };
  })()`)) as { firstRender: number; domContentLoaded: number; transferred: number; drawAnswer: number; drawCharts: number };
  return {
    firstRender: Math.round(timing.firstRender),
    domContentLoaded: Math.round(timing.domContentLoaded),
    ready,
    transferredKB: Math.round(timing.transferred / 102.4) / 10,
    drawAnswer: Math.round(timing.drawAnswer),
    drawCharts: Math.round(timing.drawCharts),
    mainThread: ms("TaskDuration"),
    script: ms("ScriptDuration"),
    layout: ms("LayoutDuration"),
  };
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
  // One tab of a running browser, as a user opens the page: a new tab would also start Chrome's
  // own pages of a new window (omnibox and the like), which here cost more CPU than the page.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await load(page, cdp, `${site.baseUrl}/`, true); // the browser's own start-up, not counted
  const cold: Load[] = [];
  const warm: Load[] = [];
  for (let i = 0; i < runs; i++) {
    const c = await load(page, cdp, `${site.baseUrl}/`, true);
    cold.push(c);
    console.log(JSON.stringify({ load: "cold", run: i + 1, ...c }));
    const w = await load(page, cdp, `${site.baseUrl}/`, false);
    warm.push(w);
    console.log(JSON.stringify({ load: "warm", run: i + 1, ...w }));
  }
  // A new tab each time (cache emptied): a renderer process of its own starts, and Chrome sets up
  // a window for it — what a first visit in a new tab costs, most of it the browser's.
  const newTab: Load[] = [];
  for (let i = 0; i < runs; i++) {
    const p = await context.newPage();
    const c = await context.newCDPSession(p);
    const l = await load(p, c, `${site.baseUrl}/`, true);
    await p.close();
    newTab.push(l);
    console.log(JSON.stringify({ load: "new tab", run: i + 1, ...l }));
  }
  await context.close();
  const weight = build.files.filter((f) => f.name.startsWith("assets/")).reduce((s, f) => s + f.gzipBytes, 0);
  console.log(
    JSON.stringify({
      summary: "first render (ms, median)",
      cold: median(cold.map((l) => l.firstRender)),
      warm: median(warm.map((l) => l.firstRender)),
      newTab: median(newTab.map((l) => l.firstRender)),
      coldReady: median(cold.map((l) => l.ready)),
      coldDrawCharts: median(cold.map((l) => l.drawCharts)),
      coldMainThread: median(cold.map((l) => l.mainThread)),
      coldScript: median(cold.map((l) => l.script)),
      coldLayout: median(cold.map((l) => l.layout)),
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
