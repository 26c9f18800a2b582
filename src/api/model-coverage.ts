// GET /v1/models: what the matrix holds for each model, per norm and knowledge level — how many
// of its variants have a row there and how many of those rows passed the engine's sanity checks
// (the rows the advisor scores by default). Worked out once per loaded snapshot.
import { KNOWLEDGE_LEVELS, NORMS, type MatrixSnapshot } from "../advisor/types.js";
import type { components } from "./schema.gen.js";

export type ModelCoverage = components["schemas"]["ModelCoverage"];

const computed = new WeakMap<MatrixSnapshot, Map<string, ModelCoverage[]>>();

/** Model id → its coverage (norms in vocabulary order, knowledge strongest first; pairs without rows left out). */
export function coverageByModel(snapshot: MatrixSnapshot): Map<string, ModelCoverage[]> {
  const known = computed.get(snapshot);
  if (known) return known;
  // model → "norm knowledge" → [variants with a row, variants whose rows are all sound]
  const counts = new Map<string, Map<string, [number, number]>>();
  for (const c of snapshot.candidates) {
    const perPair = new Map<string, boolean>();
    for (const e of c.evaluations) {
      const key = `${e.norm} ${e.knowledge}`;
      const sound = (e.failedChecks ?? []).length === 0;
      perPair.set(key, (perPair.get(key) ?? true) && sound);
    }
    let m = counts.get(c.modelId);
    if (!m) counts.set(c.modelId, (m = new Map()));
    for (const [key, sound] of perPair) {
      const n = m.get(key) ?? [0, 0];
      m.set(key, [n[0] + 1, n[1] + (sound ? 1 : 0)]);
    }
  }
  const out = new Map<string, ModelCoverage[]>();
  for (const [modelId, m] of counts) {
    const list: ModelCoverage[] = [];
    for (const norm of NORMS) {
      for (const knowledge of KNOWLEDGE_LEVELS) {
        const n = m.get(`${norm} ${knowledge}`);
        if (n) list.push({ norm, knowledge, variants: n[0], sound: n[1] });
      }
    }
    out.set(modelId, list);
  }
  computed.set(snapshot, out);
  return out;
}
