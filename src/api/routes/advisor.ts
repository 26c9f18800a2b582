// POST /v1/recommendations and POST /v1/gate: answered from the in-memory matrix (matrix-cache.ts)
// with the matrix version cited; 503 "matrix is empty" while nothing is published.
// A question naming a modelId is answered from that model's rows only: 404 when no model has that
// id, 409 when the model is registered (e.g. uploaded) but the matrix holds no rows for it yet.
// Without a modelId, the default model set answers (the matrix's own models, no uploads).
import { hash } from "node:crypto";
import { Router, type Request, type Response } from "express";
import type { MatrixSnapshot } from "../../advisor/types.js";
import type { ModelSummary } from "../../matrix/store.js";
import type { RegisteredModel } from "../../models/storage.js";
import type { MatrixCache, LoadedMatrix } from "../matrix-cache.js";
import { AnswerCache, type CachedAnswer } from "../answer-cache.js";
import { HttpProblem } from "../problem.js";
import { answerGate, answerRecommendation, parseInclude } from "../recommendation-view.js";
import type { components } from "../schema.gen.js";
import { gateRequestSchema, parseOr400, scenarioSchema } from "../validation.js";
import { matrixEmpty } from "./errors.js";

type Schemas = components["schemas"];

const JSON_TYPES = ["application/json", "application/*+json"];

/** The parsed JSON body, or a 415 (not JSON) / 400 (no body) problem. */
export function jsonBody(req: Request): unknown {
  if (req.body !== undefined) return req.body;
  const length = req.headers["content-length"];
  const empty = req.headers["transfer-encoding"] === undefined && (length === undefined || length === "0");
  if (!empty && req.is(JSON_TYPES) === false) throw new HttpProblem(415, "Unsupported Media Type", "send the body as application/json");
  throw new HttpProblem(400, "Bad Request", "a JSON request body is required", "body");
}

async function loadedOr503(cache: MatrixCache): Promise<LoadedMatrix> {
  const loaded = await cache.current();
  if (!loaded) throw matrixEmpty();
  return loaded;
}

/**
 * A budget no input can need: more changed features than the input has (L0), or more than the
 * diameter of [0, 1]^d (L2). Checked against the models the scenario selects (all when it names none).
 */
export function checkBudgetAgainstInputs(s: Schemas["Scenario"], models: readonly ModelSummary[], field: string): void {
  if (s.norm === "linf") return;
  const selected = models.filter(
    (m) => (s.modelId === undefined || m.modelId === s.modelId) && (s.architecture === undefined || m.architecture === s.architecture) && (s.dataset === undefined || m.dataset === s.dataset),
  );
  if (selected.length === 0) return; // the advisor answers 404 for the filter
  const features = Math.max(...selected.map((m) => m.inputShape.reduce((a, b) => a * b, 1)));
  if (s.norm === "l0" && s.budget > features) {
    throw new HttpProblem(400, "Bad Request", `an L0 budget of ${s.budget} changed features exceeds the ${features} input features of the model(s)`, field);
  }
  const diameter = Math.sqrt(features);
  if (s.norm === "l2" && s.budget > diameter) {
    throw new HttpProblem(400, "Bad Request", `an L2 budget of ${s.budget} exceeds ${diameter.toFixed(3)}, the largest L2 distance between inputs in [0, 1]^${features}`, field);
  }
}

/** Looks a model up in the models table (whether or not the matrix holds rows for it). */
export type ModelLookup = (id: string) => Promise<RegisteredModel | null>;

/** What answerSet needs of a loaded matrix (the service's cache, or a database file the CLI opened). */
export type AnswerSource = Pick<LoadedMatrix, "version" | "snapshot" | "models" | "defaultSnapshot" | "defaultModels">;

/**
 * What a question is answered from: with a modelId the whole snapshot (the advisor keeps that
 * model's rows, or answers 404), after a 409 for a registered model without rows; without one the
 * default model set. Shared by the HTTP routes and `advisor recommend/gate --db`.
 */
export async function answerSet(loaded: AnswerSource, modelId: string | undefined, lookup: ModelLookup | undefined, field: string): Promise<{ snapshot: MatrixSnapshot; models: ModelSummary[] }> {
  if (modelId === undefined) {
    if (loaded.defaultSnapshot.candidates.length === 0 && loaded.snapshot.candidates.length > 0) {
      throw new HttpProblem(
        404,
        "Not Found",
        `matrix version ${loaded.version} holds only uploaded models, which are answered for by id: name one with ${field} (${loaded.models.map((m) => m.modelId).join(", ")})`,
        field,
      );
    }
    return { snapshot: loaded.defaultSnapshot, models: loaded.defaultModels };
  }
  if (!loaded.models.some((m) => m.modelId === modelId) && lookup) {
    const registered = await lookup(modelId);
    if (registered) {
      throw new HttpProblem(
        409,
        "Conflict",
        `model ${modelId} (${registered.architecture}, ${registered.dataset}) is registered, but matrix version ${loaded.version} holds no rows for it yet: refresh the matrix for this model first`,
        field,
      );
    }
  }
  return { snapshot: loaded.snapshot, models: loaded.models };
}

/**
 * Sends a cached answer as Express's res.json would (same Content-Type, the ETag of the app's
 * `etag fn`), but from its bytes: the hash is made once per answer, not once per request.
 */
function sendAnswer(req: Request, res: Response, answer: CachedAnswer): void {
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  const etagOf = req.app.get("etag fn") as ((body: Buffer, encoding: string) => string | undefined) | undefined;
  if (typeof etagOf === "function") {
    answer.etag ??= req.app.get("etag") === "weak" ? weakETag(answer.body) : etagOf(answer.body, "utf8");
    if (answer.etag) res.setHeader("ETag", answer.etag);
  }
  res.send(answer.body);
}

/**
 * Express's default ETag (`etag` setting "weak", the etag package: W/"<length in hex>-<SHA-1,
 * base64, 27 characters>"), the same string, with one-shot hashing: no Hash object per answer.
 */
export function weakETag(body: Buffer): string {
  return `W/"${body.length.toString(16)}-${hash("sha1", body, "base64").slice(0, 27)}"`;
}

/** Where the answers are counted (src/api/metrics.ts). */
export interface AnswerCounter {
  recommendation(status: string): void;
  verdict(pass: boolean): void;
}

export function advisorRoutes(cache: MatrixCache, lookup?: ModelLookup, counter?: AnswerCounter, answers = new AnswerCache()): Router {
  const r = Router();

  r.post("/v1/recommendations", async (req, res) => {
    const scenario = parseOr400(scenarioSchema, jsonBody(req));
    const loaded = await loadedOr503(cache);
    const from = await answerSet(loaded, scenario.modelId, lookup, "modelId");
    checkBudgetAgainstInputs(scenario, from.models, "budget");
    const include = parseInclude(typeof req.query.include === "string" ? req.query.include : undefined);
    const key = answers.key(loaded.version, from.snapshot, ["recommend", scenario, [...include].sort()]);
    const answer = answers.get(key, () => {
      const body: Schemas["Recommendation"] = answerRecommendation(from.snapshot, scenario, include);
      return { body, status: body.status };
    });
    counter?.recommendation(answer.status);
    sendAnswer(req, res, answer);
  });

  r.post("/v1/gate", async (req, res) => {
    const request = parseOr400(gateRequestSchema, jsonBody(req));
    const loaded = await loadedOr503(cache);
    const from = await answerSet(loaded, request.scenario.modelId, lookup, "scenario.modelId");
    checkBudgetAgainstInputs(request.scenario, from.models, "scenario.budget");
    const answer = answers.get(answers.key(loaded.version, from.snapshot, ["gate", request]), () => {
      const body: Schemas["GateResult"] = answerGate(from.snapshot, request);
      return { body, status: body.pass ? "pass" : "fail" };
    });
    counter?.verdict(answer.status === "pass");
    sendAnswer(req, res, answer);
  });

  return r;
}
