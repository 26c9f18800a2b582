// The attacks, by factory. White-box (gradient access):
export { pgdLinf, pgdL2, type PgdOptions } from "./pgd.js";
export { pgdL0, type PgdL0Options } from "./sparse-l0.js";
export { fmn, type FmnOptions } from "./fmn.js";
export { apgd, apgdCeLinf, apgdCeL2, apgdDlrTLinf, apgdDlrTL2, apgdCheckpoints, type ApgdOptions, type ApgdLoss, type ApgdNorm } from "./apgd.js";
export { cwL2, type CwOptions, type CwLoss } from "./cw.js";
export { datasetSeed, type DatasetSeedOptions } from "./dataset-seed.js";
export { greedyL0, type GreedyL0Options } from "./greedy-l0.js";
export { sparseRsWhiteBox, type SparseRsWhiteBoxOptions } from "./sparse-rs.js";
export type { AttackLoss } from "./gradients.js";
// Black-box (query access):
export { squareLinf, squareL2, squareSchedule, type SquareOptions } from "./square.js";
export { sparseRs, sparseRsSchedule, type SparseRsOptions } from "./sparse-rs.js";
