// The web page (sources in web/, bundled into dist/web by `npm run build`, see web/build.ts):
// `GET /` is its index.html, `GET /assets/<file>` its script and style sheet. Everything comes
// from this directory and this origin: the Content-Security-Policy lets the page load nothing
// from elsewhere (no CDN, no font service) and run no inline script. Asset names carry a content
// hash, so they are cached for good; index.html is revalidated on every load. When the client
// accepts gzip, the precompressed `<file>.gz` the build wrote is sent instead.
import { Router, type Response } from "express";
import { stat } from "node:fs/promises";
import path from "node:path";
import { HttpProblem } from "./problem.js";

/** Inline styles are allowed for the charts: Observable Plot sets style attributes and a <style> per chart. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const ASSET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".map": "application/json" };

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

function pageHeaders(res: Response): void {
  res.setHeader("Content-Security-Policy", PAGE_CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
}

/** The page's routes over `dir` (a built dist/web); a missing build answers 404 saying how to build it. */
export function webRoutes(dir: string): Router {
  const r = Router();
  const root = path.resolve(dir);

  r.get("/", async (_req, res) => {
    const index = path.join(root, "index.html");
    if (!(await isFile(index))) {
      throw new HttpProblem(404, "Not Found", `the web page is not built (no ${index}): run \`npm run build\``);
    }
    pageHeaders(res);
    res.setHeader("Cache-Control", "no-cache");
    res.sendFile(index);
  });

  r.get("/assets/:name", async (req, res) => {
    const name = String(req.params.name);
    const type = TYPES[path.extname(name)];
    const file = path.join(root, "assets", name);
    if (!ASSET.test(name) || type === undefined || !(await isFile(file))) {
      throw new HttpProblem(404, "Not Found", `no asset ${JSON.stringify(name)}`);
    }
    pageHeaders(res);
    res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
    res.setHeader("Vary", "Accept-Encoding");
    res.type(type);
    if (req.acceptsEncodings("gzip") === "gzip" && (await isFile(`${file}.gz`))) {
      res.setHeader("Content-Encoding", "gzip");
      res.sendFile(`${file}.gz`);
      return;
    }
    res.sendFile(file);
  });

  return r;
}
