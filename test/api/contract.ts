// Contract checks for the API tests: every response a test receives is validated against the
// response schema openapi.yaml documents for that operation, status and media type. A small
// JSON-schema validator covering what the spec uses: $ref, type (also arrays of types, "null"),
// const, enum, required, properties, additionalProperties, items, minimum, maximum,
// exclusiveMinimum, minLength, pattern, minProperties, oneOf, anyOf.
import { readFile } from "node:fs/promises";
import { parse } from "yaml";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: unknown };

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === "number" && actual === "integer");
}

export class OpenApiContract {
  /** Every (METHOD path status) a test checked, to report coverage. */
  readonly seen = new Set<string>();

  private constructor(readonly doc: Schema) {}

  static async load(file: string): Promise<OpenApiContract> {
    return new OpenApiContract(parse(await readFile(file, "utf8")) as Schema);
  }

  /** Follows a local `$ref` ("#/components/…"). */
  deref(node: unknown): Schema {
    let n = node as Schema;
    for (let hops = 0; n && typeof n === "object" && typeof n.$ref === "string"; hops++) {
      if (hops > 20) throw new Error(`$ref loop at ${String(n.$ref)}`);
      const ref = n.$ref as string;
      if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported, got ${ref}`);
      let target: unknown = this.doc;
      for (const part of ref.slice(2).split("/")) target = (target as Schema)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
      if (target === undefined) throw new Error(`unresolved $ref ${ref}`);
      n = target as Schema;
    }
    return n;
  }

  operation(method: string, path: string): Schema {
    const item = (this.doc.paths as Schema)[path] as Schema | undefined;
    if (!item) throw new Error(`path ${path} is not in openapi.yaml`);
    const op = item[method.toLowerCase()] as Schema | undefined;
    if (!op) throw new Error(`${method} ${path} is not in openapi.yaml`);
    return op;
  }

  responseSchema(method: string, path: string, status: number, mediaType: string): Schema {
    const op = this.operation(method, path);
    const responses = op.responses as Schema;
    const raw = responses[String(status)] ?? responses.default;
    if (!raw) throw new Error(`${method} ${path} does not document status ${status} (documented: ${Object.keys(responses).join(", ")})`);
    const response = this.deref(raw);
    const content = response.content as Schema | undefined;
    const media = content?.[mediaType] as Schema | undefined;
    if (!media) throw new Error(`${method} ${path} ${status} does not document ${mediaType} (documented: ${Object.keys(content ?? {}).join(", ")})`);
    return media.schema as Schema;
  }

  /** Problems of `value` against `schema` ([] = valid). */
  validate(schemaNode: unknown, value: unknown, at = "$"): string[] {
    const s = this.deref(schemaNode);
    const errors: string[] = [];
    if (s.oneOf) {
      const ok = (s.oneOf as unknown[]).filter((sub) => this.validate(sub, value, at).length === 0).length;
      if (ok !== 1) errors.push(`${at}: matches ${ok} of the oneOf alternatives, expected exactly 1`);
    }
    if (s.anyOf && !(s.anyOf as unknown[]).some((sub) => this.validate(sub, value, at).length === 0)) errors.push(`${at}: matches none of anyOf`);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => matchesType(value, t))) {
        errors.push(`${at}: expected ${types.join(" | ")}, got ${typeOf(value)}`);
        return errors;
      }
    }
    if ("const" in s && value !== s.const) errors.push(`${at}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(value)}`);
    if (s.enum && !(s.enum as unknown[]).includes(value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
    if (typeof value === "number") {
      if (typeof s.minimum === "number" && value < s.minimum) errors.push(`${at}: ${value} < minimum ${s.minimum}`);
      if (typeof s.maximum === "number" && value > s.maximum) errors.push(`${at}: ${value} > maximum ${s.maximum}`);
      if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) errors.push(`${at}: ${value} <= exclusiveMinimum ${s.exclusiveMinimum}`);
    }
    if (typeof value === "string") {
      if (typeof s.minLength === "number" && value.length < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
      if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(value)) errors.push(`${at}: does not match ${s.pattern}`);
    }
    if (Array.isArray(value) && s.items) value.forEach((item, i) => errors.push(...this.validate(s.items, item, `${at}[${i}]`)));
    if (typeOf(value) === "object") {
      const obj = value as Record<string, unknown>;
      const props = (s.properties ?? {}) as Schema;
      for (const key of (s.required ?? []) as string[]) if (!(key in obj)) errors.push(`${at}: missing required ${key}`);
      if (typeof s.minProperties === "number" && Object.keys(obj).length < s.minProperties) errors.push(`${at}: fewer than ${s.minProperties} properties`);
      for (const [key, v] of Object.entries(obj)) {
        if (key in props) errors.push(...this.validate(props[key], v, `${at}.${key}`));
        else if (s.additionalProperties === false) errors.push(`${at}: unexpected property ${key}`);
        else if (s.additionalProperties && typeof s.additionalProperties === "object") errors.push(...this.validate(s.additionalProperties, v, `${at}.${key}`));
      }
    }
    return errors;
  }

  /** The documented path a concrete one is: itself, or the template it matches (/v1/jobs/7 → /v1/jobs/{id}). */
  templateOf(path: string): string | undefined {
    const paths = Object.keys(this.doc.paths as Schema);
    if (paths.includes(path)) return path;
    const escape = (t: string): string => t.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
    return paths.find((p) => p.includes("{") && new RegExp(`^${p.split(/\{[^}]+\}/).map(escape).join("[^/]+")}$`).test(path));
  }

  /** Throws unless the response is documented and its body matches the documented schema. */
  check(method: string, path: string, status: number, contentType: string | null, body: unknown): void {
    const mediaType = (contentType ?? "").split(";")[0]!.trim();
    const template = this.templateOf(path);
    // A documented response without content (304 Not Modified) must come without a body.
    if (template !== undefined) {
      const raw = (this.operation(method, template).responses as Schema)[String(status)];
      if (raw && this.deref(raw).content === undefined) {
        const empty = body === "" || body === undefined || (typeof body === "object" && body !== null && (body as { text?: unknown }).text === "");
        if (!empty) throw new Error(`${method} ${path} ${status}: the spec documents no body, got ${JSON.stringify(body).slice(0, 100)}`);
        this.seen.add(`${method.toUpperCase()} ${template} ${status}`);
        return;
      }
    }
    // The catch-all 404 of a path the API does not have is still a documented Problem.
    const schema =
      template === undefined && status === 404 && mediaType === "application/problem+json" ? { $ref: "#/components/schemas/Problem" } : this.responseSchema(method, template ?? path, status, mediaType);
    const errors = this.validate(schema, body);
    if (errors.length > 0) throw new Error(`${method} ${path} ${status}: response does not match openapi.yaml:\n  ${errors.slice(0, 10).join("\n  ")}`);
    this.seen.add(`${method.toUpperCase()} ${template ?? path} ${status}`);
  }

  /** Every example in the document (operation examples, components/examples) against its schema. */
  exampleProblems(): string[] {
    const out: string[] = [];
    const visitMedia = (where: string, media: Schema): void => {
      if (!media.schema) return;
      if ("example" in media) out.push(...this.validate(media.schema, media.example, where));
      for (const [name, ex] of Object.entries((media.examples ?? {}) as Schema)) out.push(...this.validate(media.schema, this.deref(ex).value, `${where} (${name})`));
    };
    for (const [path, item] of Object.entries(this.doc.paths as Schema)) {
      for (const [method, op] of Object.entries(item as Schema)) {
        const o = op as Schema;
        const body = o.requestBody ? this.deref(o.requestBody) : undefined;
        for (const [mt, media] of Object.entries((body?.content ?? {}) as Schema)) visitMedia(`${method} ${path} request ${mt}`, media as Schema);
        for (const [status, r] of Object.entries((o.responses ?? {}) as Schema)) {
          for (const [mt, media] of Object.entries((this.deref(r).content ?? {}) as Schema)) visitMedia(`${method} ${path} ${status} ${mt}`, media as Schema);
        }
        for (const p of (o.parameters ?? []) as unknown[]) {
          const param = this.deref(p);
          if ("example" in param) out.push(...this.validate(param.schema, coerceParam(this.deref(param.schema), param.example), `${method} ${path} parameter ${String(param.name)}`));
        }
      }
    }
    return out;
  }

  /** Operations with no example at all (request or response). */
  operationsWithoutExamples(): string[] {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(this.doc.paths as Schema)) {
      for (const [method, op] of Object.entries(item as Schema)) {
        const o = op as Schema;
        const has = Object.values((o.responses ?? {}) as Schema).some((r) =>
          Object.values((this.deref(r).content ?? {}) as Schema).some((m) => "example" in (m as Schema) || "examples" in (m as Schema)),
        );
        if (!has) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    return missing;
  }
}

function coerceParam(schema: Schema, v: unknown): unknown {
  if (typeof v === "string" && (schema.type === "number" || schema.type === "integer")) return Number(v);
  return v;
}
