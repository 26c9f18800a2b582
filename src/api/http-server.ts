// The HTTP server for the Express app, with request and response objects born with Express's
// prototypes.
//
// Why: Express gives each request its methods by `Object.setPrototypeOf(req, app.request)` (and
// the same for res). On Node 20's V8, changing the prototype of a fresh object gives it a map of
// its own, and what hangs off those maps outlives the next scavenge: under load about half of the
// young generation survived every scavenge (5 of 9 MB, scavenges of 4–15 ms) and a full
// mark-compact ran every second — that was the p99 of every route, /healthz included. Node lets a
// server construct its requests and responses from given classes; when their prototypes ARE
// app.request and app.response, Express's setPrototypeOf finds the prototype already in place and
// changes nothing. Measured on a bare Express app with one route (`bench/http-prototypes.ts`).
import http, { type Server } from "node:http";
import type { Express } from "express";

/** Makes app.request / app.response the prototypes of classes Node can construct; returns those classes. */
function bornWithExpressPrototypes(app: Express): http.ServerOptions {
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse {}
  // The chain stays Express's: AppRequest.prototype → app.request → express.request → IncomingMessage.prototype.
  Object.setPrototypeOf(AppRequest.prototype, app.request);
  Object.setPrototypeOf(AppResponse.prototype, app.response);
  const target = app as unknown as { request: object; response: object };
  target.request = AppRequest.prototype;
  target.response = AppResponse.prototype;
  // AppResponse's constructor has ServerResponse's own signature; the generic in Node's typings is not expressible on a subclass.
  return { IncomingMessage: AppRequest, ServerResponse: AppResponse as unknown as typeof http.ServerResponse };
}

/** An http.Server for `app` (not yet listening). */
export function createHttpServer(app: Express): Server {
  return http.createServer(bornWithExpressPrototypes(app), app);
}
