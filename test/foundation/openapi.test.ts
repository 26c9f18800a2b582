import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import { root } from "../helpers/cli.js";

test("src/api/schema.gen.ts is what openapi-typescript generates from openapi.yaml (run npm run gen:api)", async () => {
  const spec = new URL(`file://${path.join(root, "openapi.yaml")}`);
  const fresh = astToString(await openapiTS(spec));
  const committed = await readFile(path.join(root, "src/api/schema.gen.ts"), "utf8");
  // The CLI adds a fixed banner; compare what follows it.
  const body = (s: string): string => s.slice(s.indexOf("export ")).trim();
  assert.equal(body(committed), body(fresh));
});
