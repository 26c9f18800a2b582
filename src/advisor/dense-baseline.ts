// The winner against its own dense model. Pruning that costs clean accuracy is said in every
// answer (clean-accuracy-drop, more than CLEAN_DROP points); a winner that beats its dense
// model's robust accuracy by more than GAIN_EXPLAIN points is explained per sample
// (dense-outperformed): a gain made of samples the dense model loses to the attack is a margin
// gain; one made of samples the dense model misclassifies even without attack is a different
// clean-correct subset, not more robustness.
import type { Assessment } from "./assess.js";
import { isRobustAt } from "./curve.js";
import { budgetText, candidateLabel, fmtInt, fmtPct, fmtPoints } from "./format.js";
import { alignSamples } from "./paired.js";
import type { Scenario, Warning } from "./types.js";

/** Clean accuracy drops larger than this (a fraction: 0.05 = 5 points) are warned about. */
export const CLEAN_DROP = 0.05;
/** Robust-accuracy gains over the dense model larger than this are explained. */
export const GAIN_EXPLAIN = 0.1;

const accuracy = (c: { correct: number; n: number }): number => (c.n > 0 ? c.correct / c.n : 0);

export function denseBaselineWarnings(winner: Assessment, dense: Assessment | null, s: Scenario, withModel: boolean): Warning[] {
  if (!dense || dense.candidate === winner.candidate) return [];
  const label = candidateLabel(winner.ref, withModel);
  // "its dense model": the winner's own (the label would repeat the model).
  const denseLabel = "its dense model";
  const out: Warning[] = [];
  const wc = accuracy(winner.candidate.clean);
  const dc = accuracy(dense.candidate.clean);
  if (dc - wc > CLEAN_DROP) {
    out.push({
      code: "clean-accuracy-drop",
      message:
        `${label} classifies ${fmtPct(wc)} of clean test images correctly, ${fmtPoints(dc - wc)} less than ${denseLabel} (${fmtPct(dc)}): ` +
        `every input that is not attacked pays for the pruning (minCleanAccuracy rules such candidates out).`,
      candidate: winner.ref,
    });
  }
  const we = winner.estimate;
  const de = dense.estimate;
  if (!we || !de || !winner.evidence || !dense.evidence || !winner.choice || !dense.choice || we.value - de.value <= GAIN_EXPLAIN) return out;
  const head = `${label} resists ${fmtInt(we.robust)} of ${fmtInt(we.n)} samples at ${budgetText(s.norm, s.budget)}, ${denseLabel} ${fmtInt(de.robust)} of ${fmtInt(de.n)} (+${fmtPoints(we.value - de.value)})`;
  // One array of sample indices (rows of one grid share it): position i is the same sample.
  const sameSamples = winner.evidence.primary.sampleIndices === dense.evidence.primary.sampleIndices;
  const align = sameSamples ? null : alignSamples(winner.evidence.primary.sampleIndices, dense.evidence.primary.sampleIndices);
  let detail: string;
  if (!sameSamples && !align) {
    detail = `; the two were measured on different samples, so where the gain comes from cannot be told sample by sample.`;
  } else {
    const wd = winner.evidence.distances;
    const dd = dense.evidence.distances;
    let margin = 0;
    let denseWrong = 0;
    let other = 0;
    const ratios = new Float64Array(wd.length);
    let nRatios = 0;
    for (let i = 0; i < wd.length; i++) {
      const w = wd[i]!;
      const d = dd[align ? align[i]! : i]!;
      const wR = isRobustAt(w, winner.choice.budgetUsed);
      const dR = isRobustAt(d, dense.choice.budgetUsed);
      if (wR && !dR) {
        if (d > 0) margin++;
        else denseWrong++;
      } else if (dR && !wR) other++;
      if (w > 0 && d > 0 && Number.isFinite(w) && Number.isFinite(d)) ratios[nRatios++] = w / d;
    }
    // A typed array sorts numerically in place.
    const sorted = ratios.subarray(0, nRatios).sort();
    const median = nRatios > 0 ? sorted[Math.floor(nRatios / 2)]! : null;
    detail =
      `. Of the ${fmtInt(margin + denseWrong)} samples only it resists, ${fmtInt(margin)} are classified correctly by ${denseLabel} and lost to the attack ` +
      `(a margin gain${median === null ? "" : `; median distance ratio ${median.toFixed(2)}× where both are correct`}) and ` +
      `${fmtInt(denseWrong)} are misclassified by ${denseLabel} even without attack (a different clean-correct subset, not robustness); ` +
      `${fmtInt(other)} go the other way.`;
  }
  out.push({ code: "dense-outperformed", message: head + detail, candidate: winner.ref, evaluationIds: [winner.evidence.primary.id, dense.evidence.primary.id] });
  return out;
}
