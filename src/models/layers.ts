// The prunable layers of a stored model read from its model.json alone (no TensorFlow): the
// kernels of its Conv2D and Dense layers, as the engine's prunableWeights() sees them (biases
// never). Used to check a refresh grid's feasibility in the API process.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { PrunableLayer } from "../engine/pruning/feasibility.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Conv2D and Dense layers of the topology (Sequential or functional, not nested) in model order,
 * with the size of their `<name>/kernel` weight; null when the file does not have that shape.
 */
export function prunableLayersOf(modelJson: unknown): PrunableLayer[] | null {
  if (!isObject(modelJson) || !isObject(modelJson.modelTopology) || !Array.isArray(modelJson.weightsManifest)) return null;
  const topology = modelJson.modelTopology;
  const config = isObject(topology.model_config) ? topology.model_config.config : topology.config;
  const layers = isObject(config) ? config.layers : Array.isArray(config) ? config : undefined;
  if (!Array.isArray(layers)) return null;
  const shapes = new Map<string, number[]>();
  for (const group of modelJson.weightsManifest as unknown[]) {
    if (!isObject(group) || !Array.isArray(group.weights)) return null;
    for (const w of group.weights as unknown[]) if (isObject(w) && typeof w.name === "string" && Array.isArray(w.shape)) shapes.set(w.name, w.shape as number[]);
  }
  const out: PrunableLayer[] = [];
  for (const l of layers as unknown[]) {
    if (!isObject(l) || !isObject(l.config)) return null;
    if (l.class_name !== "Conv2D" && l.class_name !== "Dense") continue;
    const shape = shapes.get(`${String(l.config.name)}/kernel`);
    if (!shape || !shape.every((d) => Number.isInteger(d) && d > 0)) return null;
    out.push({ layer: String(l.config.name), weights: shape.reduce((a, b) => a * b, 1), kind: l.class_name === "Conv2D" ? "conv" : "dense" });
  }
  return out;
}

/** prunableLayersOf(<dir>/model.json), null when it cannot be read or understood. */
export async function prunableLayersIn(dir: string): Promise<PrunableLayer[] | null> {
  try {
    return prunableLayersOf(JSON.parse(await readFile(path.join(dir, "model.json"), "utf8")));
  } catch {
    return null;
  }
}
