// The API's types as the page uses them: openapi.yaml's schemas, as generated into
// src/api/schema.gen.ts (`npm run gen:api`). Types only, so the modules that import them run
// anywhere (the tests import some of them into Node).
import type { components } from "../../src/api/schema.gen.js";

type Schemas = components["schemas"];
export type Scenario = Schemas["Scenario"];
export type SizeLimit = Schemas["SizeLimit"];
export type Recommendation = Schemas["Recommendation"];
export type CandidateSummary = Schemas["CandidateSummary"];
export type RobustAccuracy = Schemas["RobustAccuracy"];
export type Alternative = Schemas["Alternative"];
export type CurvesResponse = Schemas["CurvesResponse"];
export type CurvePlot = Schemas["CurvePlot"];
export type MatrixRow = Schemas["MatrixRow"];
export type MatrixPage = Schemas["MatrixPage"];
export type ModelSummary = Schemas["ModelSummary"];
export type ModelsResponse = Schemas["ModelsResponse"];
export type Job = Schemas["Job"];
export type JobList = Schemas["JobList"];
export type Problem = Schemas["Problem"];
export type Norm = Schemas["Norm"];
export type Knowledge = Schemas["Knowledge"];
export type Strategy = Schemas["Strategy"];

