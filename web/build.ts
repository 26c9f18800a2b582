// Builds the web page (web/src, web/index.html) into a directory the service serves at /
// (src/api/web.ts): `npm run build` writes dist/web; the browser tests build into a temp
// directory. esbuild bundles the TypeScript, Observable Plot and the CSS into one script and one
// style sheet, named by content hash, each with a gzip copy. The request shapes of openapi.yaml
// the scenario form is built from are embedded at build time, so the page needs nothing but
// its own origin at run time. The output appears complete or not at all (written beside, renamed).
import { build } from "esbuild";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);

export interface BuiltFile {
  /** Path under the output directory, e.g. assets/app-5KQ2ZC3J.js. */
  name: string;
  bytes: number;
  gzipBytes: number;
}

export interface WebBuild {
  dir: string;
  /** The script, the chunks it imports and the style sheet (what the page weighs), then index.html. */
  files: BuiltFile[];
}

type Schema = Record<string, unknown>;

/** The named schemas of openapi.yaml that `names` reference, directly or not (the form reads them). */
export function schemasFor(doc: Schema, names: readonly string[]): Record<string, Schema> {
  const all = (doc.components as { schemas: Record<string, Schema> }).schemas;
  const out: Record<string, Schema> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      const ref = (node as Schema).$ref;
      if (typeof ref === "string") add(ref.replace("#/components/schemas/", ""));
      Object.values(node).forEach(visit);
    }
  };
  const add = (name: string): void => {
    if (name in out) return;
    const s = all[name];
    if (!s) throw new Error(`openapi.yaml has no schema ${name}`);
    out[name] = s;
    visit(s);
  };
  names.forEach(add);
  return out;
}

async function sizeOf(dir: string, name: string): Promise<BuiltFile> {
  const body = await readFile(path.join(dir, name));
  return { name, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
}

export async function buildWeb(outdir: string, o: { minify?: boolean } = {}): Promise<WebBuild> {
  const target = path.resolve(outdir);
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const spec = parse(await readFile(path.join(root, "openapi.yaml"), "utf8")) as Schema;
  const result = await build({
    entryPoints: { app: path.join(here, "src", "main.ts") },
    outdir: path.join(staging, "assets"),
    entryNames: "[name]-[hash]",
    // The charts (Observable Plot) in a chunk of their own, loaded while the first question is asked.
    splitting: true,
    chunkNames: "[name]-[hash]",
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome110", "firefox110", "safari16"],
    minify: o.minify ?? true,
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
    define: { __API_SCHEMAS__: JSON.stringify(schemasFor(spec, ["Scenario", "Strategy"])) },
  });
  const rel = (f: string) => path.relative(staging, path.resolve(f)).split(path.sep).join("/");
  const outputs = Object.entries(result.metafile.outputs).map(([f, o]) => ({ name: rel(f), entry: o.entryPoint !== undefined && o.entryPoint.endsWith("main.ts") }));
  const script = outputs.find((o) => o.entry && o.name.endsWith(".js"))?.name;
  const chunks = outputs.filter((o) => !o.entry && o.name.endsWith(".js")).map((o) => o.name);
  const style = outputs.find((o) => o.name.endsWith(".css"))?.name;
  if (!script || !style) throw new Error(`web build: expected a script and a style sheet, got ${outputs.map((o) => o.name).join(", ")}`);
  const template = await readFile(path.join(here, "index.html"), "utf8");
  // The chunks are fetched at once, not when the script gets to import them.
  const preloads = chunks.map((c) => `<link rel="modulepreload" href="/${c}" />`).join("\n    ");
  const html = template.replace("{{script}}", `/${script}`).replace("{{style}}", `/${style}`).replace("{{preloads}}", preloads);
  if (html.includes("{{")) throw new Error("web/index.html: a placeholder was left unfilled");
  await writeFile(path.join(staging, "index.html"), html);
  for (const f of [script, ...chunks, style]) {
    const file = path.join(staging, f);
    await writeFile(`${file}.gz`, gzipSync(await readFile(file), { level: 9 }));
  }
  const files = [await sizeOf(staging, script), ...(await Promise.all(chunks.map((c) => sizeOf(staging, c)))), await sizeOf(staging, style), await sizeOf(staging, "index.html")];
  await mkdir(path.dirname(target), { recursive: true });
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return { dir: target, files };
}

/** "app-X.js 212.3 KB (71.0 KB gzip)" lines and the page weight. */
export function describeBuild(b: WebBuild): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const lines = b.files.map((f) => `  ${f.name}  ${kb(f.bytes)} (${kb(f.gzipBytes)} gzip)`);
  const assets = b.files.filter((f) => f.name.startsWith("assets/"));
  const weight = assets.reduce((s, f) => s + f.gzipBytes, 0);
  return [`web page built in ${b.dir}:`, ...lines, `page weight (scripts + style sheet, gzip): ${kb(weight)}`].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const out = process.argv[2] ?? path.join(root, "dist", "web");
  buildWeb(out)
    .then((b) => console.log(describeBuild(b)))
    .catch((err: unknown) => {
      console.error(`web build failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}
