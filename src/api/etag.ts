// Conditional GETs for the matrix's read endpoints: a published matrix version never changes, so
// an answer is a function of the request URL, the version the service answers from and, for the
// models list, the registered models. The ETag is made from those before any work is done, and a
// client that sends it back (If-None-Match) gets 304 without the query being run again.
// `Cache-Control: no-cache` makes caches ask every time, so a newly published version is seen
// at once.
import { createHash } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import type { MatrixCache } from "./matrix-cache.js";

/** What else an answer depends on besides the URL and the matrix version (default nothing). */
export type ExtraKey = (req: Request) => Promise<string> | string;

function matches(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  const weak = (t: string): string => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || weak(t) === weak(tag));
}

export function versionETag(cache: MatrixCache, extra?: ExtraKey): RequestHandler {
  return async (req: Request, res: Response, next) => {
    const loaded = await cache.current();
    if (!loaded) return next(); // nothing published: the route answers 503
    const key = `${loaded.version}\u0000${req.originalUrl}\u0000${extra ? await extra(req) : ""}`;
    const tag = `W/"mv${loaded.version}-${createHash("sha256").update(key).digest("base64url").slice(0, 22)}"`;
    res.setHeader("ETag", tag);
    res.setHeader("Cache-Control", "no-cache");
    if (matches(req.headers["if-none-match"], tag)) {
      res.status(304).end();
      return;
    }
    next();
  };
}
