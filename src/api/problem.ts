// RFC 9457 problem details: every error the API returns has this shape and media type.
import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { components } from "./schema.gen.js";

export const PROBLEM_TYPE = "application/problem+json";

/** The Problem schema of openapi.yaml (type, title, status, detail, instance, field, requestId). */
export type ProblemBody = components["schemas"]["Problem"];

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly field?: string,
  ) {
    super(detail ?? title);
    this.name = "HttpProblem";
  }
}

export function sendProblem(res: Response, problem: Omit<ProblemBody, "type"> & { type?: string }): void {
  const requestId = res.getHeader("x-request-id");
  const body: ProblemBody = {
    type: problem.type ?? "about:blank",
    ...problem,
    ...(typeof requestId === "string" ? { requestId } : {}),
  };
  res.status(problem.status).type(PROBLEM_TYPE).send(JSON.stringify(body));
}

/**
 * A problem's `instance`: the request path without its query string, so nothing a client put in
 * the query (a misplaced API key above all) is ever echoed back.
 */
export function instanceOf(req: { originalUrl: string }): string {
  const url = req.originalUrl;
  const i = url.search(/[?#]/);
  return i === -1 ? url : url.slice(0, i);
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, { status: 404, title: "Not Found", detail: `no route for ${req.method} ${req.path}`, instance: instanceOf(req) });
};

/** Known errors keep their status; body-parser errors (bad JSON, too large) are client errors; the rest is 500. */
export const problemHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  if (err instanceof HttpProblem) {
    sendProblem(res, { status: err.status, title: err.title, detail: err.detail, field: err.field, instance: instanceOf(req) });
    return;
  }
  const status = statusOf(err);
  if (status !== undefined && status >= 400 && status < 500) {
    const detail = err instanceof Error ? err.message : undefined;
    sendProblem(res, { status, title: titleFor(status), detail, instance: instanceOf(req) });
    return;
  }
  req.log?.error({ err }, "unhandled error");
  sendProblem(res, { status: 500, title: "Internal Server Error", instance: instanceOf(req) });
};

function statusOf(err: unknown): number | undefined {
  if (err && typeof err === "object") {
    const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
    if (typeof s === "number") return s;
  }
  return undefined;
}

function titleFor(status: number): string {
  const titles: Record<number, string> = { 400: "Bad Request", 404: "Not Found", 413: "Content Too Large", 415: "Unsupported Media Type" };
  return titles[status] ?? "Client Error";
}
