// Set by web/build.ts (esbuild `define`): the request schemas of openapi.yaml the scenario form is
// built from — Scenario and every schema it references, by name.
declare const __API_SCHEMAS__: Record<string, import("./schema").JsonSchema>;
