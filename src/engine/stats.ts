// Small statistics shared by the engine and the advisor: the Wilson interval lives in the shared
// vocabulary (src/vocabulary.ts); re-exported here for the engine's modules.
export { wilson, Z95, type Interval } from "../vocabulary.js";
