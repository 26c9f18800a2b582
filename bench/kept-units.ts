// Per prunable layer of saved models, how many output units are still read by the next layer
// (dropReport, src/engine/pruning/dropped.ts): where a pruned variant has thinned or emptied a
// layer. Usage: node --import tsx bench/kept-units.ts <modelDir> [<modelDir> …]
import { initBackend } from "../src/engine/backend.js";
import { loadModel } from "../src/engine/model-io.js";
import { dropReport } from "../src/engine/pruning/index.js";

await initBackend();
for (const dir of process.argv.slice(2)) {
  const { model } = await loadModel(dir);
  const report = dropReport(model);
  console.log(`${dir}: ${report ? report.layers.map((l) => `${l.layer} ${l.kept}/${l.units}`).join(", ") : "layers cannot be chained"}`);
  model.dispose();
}
