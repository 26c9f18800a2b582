// The scenario form's fields, in one place. The form itself is generated from openapi.yaml's
// Scenario schema (embedded at build time, see form.ts): every property becomes a control —
// an enum a select, a number a number input with the schema's bounds, a boolean a checkbox, an
// object (sizeLimit) a fieldset of its properties — so a field the API adds appears on the page,
// in the curl line and in the `advisor recommend` line without a change here. This list adds
// what the schema does not say: a short label and help, the command-line option when it is not
// --kebab-case of the name, and where the choices of a free-text field come from.
import type { Scenario, SizeLimit } from "./types.js";

/** "norm", "budget", …, "sizeLimit.maxBytes": the form's field paths. */
export type ScenarioPath = Exclude<keyof Scenario, "sizeLimit"> | `sizeLimit.${keyof SizeLimit}`;

export interface FieldUi {
  label?: string;
  help?: string;
  /** The `advisor recommend` option; default `--` + the name in kebab-case. */
  cli?: string;
  /** A free-text field whose choices are read from GET /v1/models. */
  choices?: "modelId" | "architecture" | "dataset";
}

export const FIELDS: Partial<Record<ScenarioPath | "sizeLimit", FieldUi>> = {
  norm: { label: "Attack norm", help: "L∞: every pixel moves a little; L2: Euclidean distance; L0: a few pixels change." },
  budget: { label: "Budget ε", help: "In the norm's units — L∞: pixel units 0–1 (e.g. 0.03); L2: Euclidean (e.g. 1.5); L0: features changed (e.g. 12)." },
  knowledge: { label: "Attacker knowledge", help: "white-box: the pruned model's gradients; transfer: the dense original; black-box: queries only." },
  sizeLimit: { label: "Size limit (any of these; leave empty for none)" },
  "sizeLimit.maxParameters": { label: "At most non-zero parameters" },
  "sizeLimit.minCompression": { label: "At least compression rate", help: "Prunable parameters before ÷ non-zero after (1 = dense)." },
  "sizeLimit.maxBytes": { label: "At most bytes stored sparse" },
  "sizeLimit.structuredOnly": { label: "Structured pruning only", help: "filter pruning (structured-l1, filter/*) and dense: the candidates that really shrink compute." },
  minCleanAccuracy: { label: "Minimum clean accuracy", help: "A fraction: 0.85 = 85 %." },
  modelId: { label: "Model", cli: "--model", choices: "modelId", help: "Default: the matrix's own models, ranked together. An uploaded model is answered for only when chosen here." },
  architecture: { label: "Architecture", choices: "architecture" },
  dataset: { label: "Data set", choices: "dataset" },
  allowUnsoundEvidence: { label: "Also score unsound evidence", help: "Rows that failed the engine's sanity checks are scored too, with a warning." },
  adversarialShare: { label: "Adversarial share", help: "The share of inputs that are attacked, 0–1 (default 1). Below 1 candidates are ranked by (1 − share)·clean + share·robust accuracy." },
};

export function fieldUi(path: string): FieldUi {
  return (FIELDS as Record<string, FieldUi | undefined>)[path] ?? {};
}

/** `minCleanAccuracy` → "Min clean accuracy" (for a field the list does not describe yet). */
export function humanize(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The `advisor recommend` option of a field path. */
export function cliFlag(path: string): string {
  const ui = fieldUi(path);
  if (ui.cli) return ui.cli;
  const leaf = path.split(".").at(-1)!;
  return `--${leaf.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`;
}
