// The part of JSON Schema the scenario form reads from openapi.yaml (embedded at build time).
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: string[];
  const?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
}

/** Follows a `#/components/schemas/X` reference into the embedded schemas. */
export function resolve(s: JsonSchema, schemas: Record<string, JsonSchema> = __API_SCHEMAS__): JsonSchema {
  let node = s;
  for (let hops = 0; node.$ref !== undefined; hops++) {
    const name = node.$ref.replace("#/components/schemas/", "");
    const next = schemas[name];
    if (!next || hops > 10) throw new Error(`unresolved schema reference ${node.$ref}`);
    node = next;
  }
  return node;
}

export function scenarioSchema(): JsonSchema {
  const s = __API_SCHEMAS__.Scenario;
  if (!s) throw new Error("the page was built without the Scenario schema");
  return s;
}

/** `integer`, `number`, `boolean`, `string`, `object` (the first non-null type). */
export function typeOf(s: JsonSchema): string {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
  return t ?? (s.enum ? "string" : "object");
}
