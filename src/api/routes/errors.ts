// Maps the domain's errors onto problem details, so no client input ever ends in a 500:
// - AdvisorInputError → 400 naming the field; UnknownModelError / UnknownCandidateError → 404;
// - the store's MatrixInputError (bad cursor, filter, page size) → 400; MatrixVersionError → 404
//   for a version that does not exist or is not published, 503 when nothing is published at all;
// - AdvisorDataError (an inconsistent matrix) stays a 500: it is not the caller's fault.
import type { ErrorRequestHandler } from "express";
import { AdvisorInputError, UnknownCandidateError, UnknownModelError, UnsoundEvidenceError } from "../../advisor/errors.js";
import { MatrixInputError, MatrixVersionError } from "../../matrix/store.js";
import { HttpProblem, instanceOf, sendProblem } from "../problem.js";

export const MATRIX_EMPTY = "matrix is empty";

export function matrixEmpty(): HttpProblem {
  return new HttpProblem(503, "Service Unavailable", MATRIX_EMPTY);
}

function storeInputField(message: string): string | undefined {
  if (/cursor/i.test(message)) return "cursor";
  if (/page limit/i.test(message)) return "limit";
  if (/version/i.test(message)) return "version";
  const m = /^(?:filter |unknown )(\w+)/.exec(message);
  if (m) return m[1] === "attacker" ? "knowledge" : m[1];
  return undefined;
}

export function toProblem(err: unknown): unknown {
  if (err instanceof HttpProblem) return err;
  if (err instanceof AdvisorInputError) return new HttpProblem(400, "Bad Request", err.message, err.field);
  if (err instanceof UnknownCandidateError) return new HttpProblem(404, "Not Found", err.message, err.field ?? "candidate");
  if (err instanceof UnknownModelError) return new HttpProblem(404, "Not Found", err.message, err.field ?? "modelId");
  if (err instanceof UnsoundEvidenceError) return new HttpProblem(422, "Unprocessable Content", err.message, err.field);
  if (err instanceof MatrixInputError) return new HttpProblem(400, "Bad Request", err.message, storeInputField(err.message));
  if (err instanceof MatrixVersionError) {
    if (/no published version/.test(err.message)) return matrixEmpty();
    return new HttpProblem(404, "Not Found", err.message, "version");
  }
  return err;
}

export const domainErrors: ErrorRequestHandler = (err: unknown, req, res, next) => {
  // Unknown model or candidate: also say what the matrix does hold (machine-readable).
  if (err instanceof UnknownModelError || err instanceof UnknownCandidateError) {
    const p = toProblem(err) as HttpProblem;
    const available = err instanceof UnknownModelError ? err.available.map((m) => ({ ...m })) : err.available.map((c) => ({ ...c }));
    sendProblem(res, { status: p.status, title: p.title, detail: p.detail, field: p.field, instance: instanceOf(req), available });
    return;
  }
  next(toProblem(err));
};
