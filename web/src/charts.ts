// The charts, loaded apart from the rest of the page (a dynamic import from main.ts): Observable
// Plot and d3 are most of the script, so the page asks its first question while they load.
export { curvesTable, curvesView } from "./curves.js";
export { heatmapCells, heatmapView } from "./heatmap.js";
