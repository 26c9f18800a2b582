import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import path from "node:path";

// src/paths.ts and dist/paths.js sit one level below the package root, so the same
// relative step finds it whether we run from sources (tsx) or from the build.
export const packageRoot: string = fileURLToPath(new URL("..", import.meta.url));

export const migrationsDir: string = path.join(packageRoot, "db", "migrations");
export const openapiPath: string = path.join(packageRoot, "openapi.yaml");
export const defaultDbPath: string = path.join(packageRoot, "data", "advisor.sqlite");
/** The shipped default matrix (JSONL), imported into a database that has none (see src/matrix/seed.ts). */
export const shippedMatrixPath: string = path.join(packageRoot, "db", "matrix.jsonl");
/** The built web page (`npm run build` bundles web/ there), served at / (src/api/web.ts). */
export const webDir: string = path.join(packageRoot, "dist", "web");
/** The grid a refresh job runs when the request names none. */
export const defaultRefreshGridPath: string = path.join(packageRoot, "db", "grids", "default.yaml");

let cachedVersion: string | undefined;
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { version: string };
    cachedVersion = pkg.version;
  }
  return cachedVersion;
}

/**
 * The entry of a process to fork that sits next to the module at `moduleUrl` (import.meta.url):
 * `<name>.ts` through tsx when running from sources, `<name>.js` from the build.
 */
export function siblingEntry(moduleUrl: string, name: string): { file: string; execArgv: string[] } {
  const here = fileURLToPath(moduleUrl);
  if (here.endsWith(".ts")) return { file: path.join(path.dirname(here), `${name}.ts`), execArgv: ["--import", "tsx"] };
  return { file: path.join(path.dirname(here), `${name}.js`), execArgv: [] };
}
