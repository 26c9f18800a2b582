// Helpers for the browser tests of the web page: the bundle built once per process into a temp
// directory (web/build.ts, as `npm run build` does into dist/web), the service on the shipped
// matrix imported into a temp database, and Debian's chromium driven by playwright-core.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { createApp, type AppDeps } from "../../src/api/app.js";
import { JobManager } from "../../src/jobs/manager.js";
import { createLogger } from "../../src/logger.js";
import { seedMatrix } from "../../src/matrix/seed.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { migrationsDir, openapiPath, shippedMatrixPath } from "../../src/paths.js";
import { buildWeb, type WebBuild } from "../../web/build.js";
import { root } from "../helpers/cli.js";

export const CHROMIUM = process.env.ADVISOR_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or false. */
export const noBrowser: string | false = existsSync(CHROMIUM)
  ? false
  : `chromium is not installed at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it), so the page is not tested in a browser`;

/** Screenshots for a person to look at (git-ignored). */
export const SHOTS = path.join(root, "test-output", "web");

let built: Promise<{ build: WebBuild; dir: string }> | undefined;

/** The page bundled once for this test process. */
export function builtPage(): Promise<{ build: WebBuild; dir: string }> {
  built ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-web-"));
    process.once("exit", () => void rm(dir, { recursive: true, force: true }));
    const build = await buildWeb(path.join(dir, "web"));
    return { build, dir: build.dir };
  })();
  return built;
}

export interface Site {
  baseUrl: string;
  store: MatrixStore;
  jobs: JobManager;
  /** Another app on the same database, with extra settings (API keys, protected reads). */
  another(o: Pick<AppDeps, "keys" | "protectReads">): Promise<string>;
  close(): Promise<void>;
}

/** The service (in-process) on the shipped matrix in a temp database, serving the built page; refresh jobs are listed but none is started. */
export async function startSite(): Promise<Site> {
  const page = await builtPage();
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-site-"));
  const dbFile = path.join(dir, "matrix.sqlite");
  const store = await MatrixStore.open(dbFile);
  await seedMatrix(store, shippedMatrixPath, dbFile);
  // A manager that is never started: the tests drive the job store themselves, as a runner would.
  const jobs = new JobManager({ store, dbFile, pollMs: 60_000 });
  const servers: Server[] = [];
  const listen = async (extra: Pick<AppDeps, "keys" | "protectReads">): Promise<string> => {
    const app = createApp({
      db: store.db,
      store,
      jobs,
      logger: createLogger("silent"),
      migrationsDir,
      openapiPath,
      version: "0.0.0-test",
      matrixCheckIntervalMs: 0,
      webDir: page.dir,
      ...extra,
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const baseUrl = await listen({});
  return {
    baseUrl,
    store,
    jobs,
    another: listen,
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  // Chromium's sandbox needs user namespaces it does not get as root in a container.
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: asRoot ? ["--no-sandbox"] : [] });
}

export interface Watched {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

export async function openPage(browser: Browser, url: string, viewport = { width: 1280, height: 900 }): Promise<Watched> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector("body[data-state=ready]", { timeout: 60_000 });
  return { page, errors, requests };
}

/** A screenshot of an element, the whole page, or (selector "viewport") what the window shows. */
export async function shot(page: Page, name: string, selector?: string): Promise<string> {
  await mkdir(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  if (selector === "viewport") await page.screenshot({ path: file });
  else if (selector) await page.locator(selector).screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Waits until the answer, the charts and the evidence of the latest question are drawn. */
export async function answered(page: Page): Promise<void> {
  for (const sel of ["#results[data-state=ready]", "#curves-chart[data-state=ready]", "#heatmap-chart[data-state=ready]", "#evidence[data-state=ready]"]) {
    await page.waitForSelector(sel, { timeout: 30_000 });
  }
}
