// The advisor's answer (DESIGN.md, "The advisor"): among all (strategy, rate) variants of the
// selected model that meet every limit, dense included, the one with the highest LOWER Wilson
// 95 % bound of robust accuracy at the budget (risk-averse; a variant measured with several
// pruning seeds by its worst seed's, seeds.ts), ties to the smaller model; ranked
// alternatives with their margin and significance, the evidence rows, the curve around the
// budget, the matrix version, a plain-language rationale and warnings. No feasible candidate is
// an answer too (status "infeasible", with the binding limit and the nearest candidate's need).
// With an adversarial share r below 1 the score is the lower bound of (1 − r)·clean + r·robust and
// the answer says over which shares the winner stays the best (share.ts).
// Pure: plain data in, plain data out.
import { incompleteGridWarnings } from "./coverage.js";
import { comparable, curveSeries, evidenceRows, SCORE_TIE, tieBreak, type Assessment } from "./assess.js";
import { marginWarning, NAMED_UNSCORED, noEvidenceWarning, rationaleNoEvidence, rationaleOk, shareSentence } from "./explain.js";
import { activeLimits, analyseInfeasibility, passesAll } from "./limits.js";
import { scoreSources, sourceScore, tieRanks } from "./scoring.js";
import { compare } from "./paired.js";
import { budgetLookup } from "./curve.js";
import { denseBaselineWarnings } from "./dense-baseline.js";
import { evidenceCacheOf, perSelection } from "./prepared.js";
import { modelsOf, selectCandidates } from "./select.js";
import { cleanEstimate, compareAtShare, rankingScore, shareOf, upperEnvelope } from "./share.js";
import { assessVariant, foldSeeds, singleSeedWarning, variantScore } from "./seeds.js";
import { mixedAttackSetsWarning } from "./attack-sets.js";
import { validateScenario } from "./validate.js";
import type { Alternative, Candidate, Comparison, CurveSeries, MatrixSnapshot, Recommendation, Scenario, ShareSegment, Warning } from "./types.js";

export interface RecommendOptions {
  /**
   * How many ranked candidates to return as alternatives (the winner is rank 1), default all.
   * Paired tests are computed only for those returned; `counts.ranked` says how many there are.
   */
  alternatives?: number;
  /**
   * Whether to build the evidence rows and the curves around the budget (default true). An answer
   * that will not show them (the API's lean view) leaves them empty: nothing else depends on them.
   */
  evidence?: boolean;
  curve?: boolean;
  /**
   * Whether to list every unscored candidate with its reason (default true). Without them (the
   * lean view), only the few the no-evidence warning names are assessed: a question on the
   * shipped matrix leaves ~37 of ~123 candidates unscored.
   */
  unscored?: boolean;
}

interface Scored {
  candidate: Candidate;
  /** Lower Wilson bound of robust accuracy (the score at share 1). */
  robustLow: number | null;
  score: number | null;
  assessment: Assessment | null;
  /** Its place among equal scores (scoring.ts, tieRanks). */
  tie: number;
}

/**
 * Best first, as rankCompare orders: higher score; within SCORE_TIE, the tie ranks (tieBreak's
 * order). Only the sign matters to a sort: ±1 instead of a difference of scores, which V8 boxes
 * (a heap number per comparison, 44,000 comparisons for 3,700 candidates).
 */
function byScore(a: Scored, b: Scored): number {
  const sa = a.score ?? Number.NEGATIVE_INFINITY;
  const sb = b.score ?? Number.NEGATIVE_INFINITY;
  if (Math.abs(sa - sb) > SCORE_TIE) return sb > sa ? 1 : -1;
  return a.tie - b.tie;
}

/** The `k` first of `items` in the order of `cmp` (a strict order), best first, without sorting the rest. */
function bestOf<T>(items: readonly T[], k: number, cmp: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  for (const x of items) {
    if (best.length === k && cmp(x, best[k - 1]!) >= 0) continue;
    let at = best.length;
    while (at > 0 && cmp(x, best[at - 1]!) < 0) at--;
    best.splice(at, 0, x);
    if (best.length > k) best.pop();
  }
  return best;
}

export function recommend(matrix: MatrixSnapshot, scenarioInput: Scenario, options: RecommendOptions = {}): Recommendation {
  const scenario = validateScenario(scenarioInput);
  const cache = evidenceCacheOf(matrix);
  // What depends only on the models selected: once per prepared snapshot and selection.
  const selection = JSON.stringify(["recommend", scenario.modelId, scenario.architecture, scenario.dataset]);
  const { pool, withModel, coverage, ties } = perSelection(matrix, selection, () => {
    const selected = selectCandidates(matrix, scenario, false);
    // A variant measured with several pruning seeds is one candidate (seeds.ts).
    const folded = foldSeeds(selected);
    return {
      pool: folded,
      withModel: modelsOf(selected).length > 1,
      // Holes in a model's (strategy, rate) set: said in every answer, whatever its status.
      coverage: incompleteGridWarnings(selected),
      ties: tieRanks(folded),
    };
  });
  const allowUnsound = scenario.allowUnsoundEvidence === true;
  // Each candidate's prepared evidence for this (norm, knowledge): once per selection (scoring.ts).
  const sources = cache ? perSelection(matrix, JSON.stringify([selection, scenario.norm, scenario.knowledge, allowUnsound]), () => scoreSources(pool, scenario.norm, scenario.knowledge, allowUnsound, cache)) : null;
  const limits = activeLimits(scenario);
  const feasibleAt: number[] = [];
  for (let i = 0; i < pool.length; i++) if (passesAll(pool[i]!, limits)) feasibleAt.push(i);
  const feasible = feasibleAt.map((i) => pool[i]!);
  // Each answer is a fresh copy of these with its own fields added (Object.assign, not a spread: see assess.ts).
  const base = (): Pick<Recommendation, "matrixVersion" | "scenario" | "recommendation" | "alternatives" | "unscored" | "comparison" | "evidence" | "curve" | "infeasible"> => ({
    matrixVersion: matrix.version,
    scenario,
    recommendation: null,
    alternatives: [],
    unscored: [],
    comparison: null,
    evidence: [],
    curve: [],
    infeasible: null,
  });

  if (feasible.length === 0) {
    const infeasible = analyseInfeasibility(pool, limits, withModel);
    return Object.assign(base(), {
      status: "infeasible" as const,
      infeasible,
      counts: { considered: pool.length, feasible: 0, ranked: 0 },
      rationale: infeasible.text,
      warnings: coverage,
    });
  }

  // Every feasible candidate is scored; only those shown are assessed in full. On a prepared
  // snapshot the score is a lookup of the bound precomputed at the grid budget (preparedScore); otherwise,
  // and where the evidence depends on ε, it comes from the full assessment.
  const lookup = budgetLookup(scenario.budget);
  const scored: Scored[] = feasibleAt.map((i) => {
    const c = pool[i]!;
    let quick = cache ? sourceScore(sources![i], lookup) : undefined;
    if (quick === undefined && cache) quick = variantScore(c, scenario, cache, lookup);
    if (quick !== undefined) return { candidate: c, robustLow: quick, score: rankingScore(c, quick, scenario), assessment: null, tie: ties[i]! };
    const a = assessVariant(c, scenario, withModel, cache);
    return { candidate: c, robustLow: a.robustLow, score: a.score, assessment: a, tie: ties[i]! };
  });
  const assess = (x: Scored): Assessment => (x.assessment ??= assessVariant(x.candidate, scenario, withModel, cache));
  const withScore = scored.filter((x) => x.score !== null);
  // The candidates shown, best first. Every one is ordered only when all are shown or the share
  // sweep reads them all; otherwise the best few are picked in one pass (byScore is a strict
  // order — the tie ranks differ — so they are the sort's first few).
  const needed = Math.max(2, Math.floor(options.alternatives ?? 0));
  const sortAll = options.alternatives === undefined || !Number.isFinite(options.alternatives) || shareOf(scenario) < 1;
  const rankedScores = sortAll ? withScore.sort(byScore) : bestOf(withScore, needed, byScore);
  const unscoredAt = scored.filter((x) => x.score === null);
  const listed = (a: Assessment): Recommendation["unscored"][number] => ({ candidate: a.summary, reason: a.noEvidenceReason ?? "no admissible evidence" });
  const counts = { considered: pool.length, feasible: feasible.length, ranked: withScore.length };
  const shown = Math.max(1, Math.floor(options.alternatives ?? withScore.length));
  // The runner-up is assessed even when only the winner is shown: the answer compares them.
  const ranked = rankedScores.slice(0, Math.max(shown, 2)).map(assess);

  if (ranked.length === 0) {
    // Nothing ranked: the rationale reads every unscored candidate's reason.
    const unscoredA = unscoredAt.map(assess);
    const w = noEvidenceWarning(unscoredA, withModel);
    return Object.assign(base(), {
      status: "no-evidence" as const,
      unscored: unscoredA.map(listed),
      counts,
      rationale: rationaleNoEvidence(scenario, unscoredA, pool.length),
      warnings: [...(w ? [w] : []), ...coverage],
    });
  }

  const winner = ranked[0]!;
  const runnerUp: Assessment | null = ranked[1] ?? null;
  const winnerSide = comparable(winner);
  const share = shareOf(scenario);
  // Robust accuracy at share 1; the aggregate below (its robust part is the paired test).
  const test = (a: Assessment): Comparison => {
    const robust = compare(winnerSide, comparable(a));
    return share === 1 ? robust : compareAtShare(robust, { label: winner.label, clean: winner.candidate.clean }, { label: a.label, clean: a.candidate.clean }, share);
  };
  const alternatives: Alternative[] = ranked.slice(0, shown).map((a, i) => {
    const comparison = i === 0 ? null : test(a);
    return {
      rank: i + 1,
      candidate: a.summary,
      score: a.score!,
      margin: Math.max(0, winner.score! - a.score!),
      significant: comparison ? comparison.significant : null,
      comparison,
      warnings: a.warnings,
    };
  });
  // The runner-up is compared even when only the winner is shown: the margin warning needs it.
  const comparison = alternatives[1]?.comparison ?? (runnerUp ? test(runnerUp) : null);

  const warnings: Warning[] = [...winner.warnings, ...(runnerUp?.warnings ?? [])];
  const oneSeed = singleSeedWarning(winner, withModel);
  if (oneSeed) warnings.push(oneSeed);
  if (runnerUp && comparison) {
    const w = marginWarning(winner, runnerUp, comparison, withModel);
    if (w) warnings.push(w);
  }
  // The winner against its own dense model (even when the limits exclude the dense model).
  const denseOf = pool.find((c) => c.modelId === winner.candidate.modelId && c.strategy === "dense");
  const dense = denseOf === undefined ? null : denseOf === winner.candidate ? winner : assessVariant(denseOf, scenario, withModel, cache);
  warnings.push(...denseBaselineWarnings(winner, dense, scenario, withModel));
  // Against the runner-up, which every answer compares (whatever number of alternatives it shows).
  const mixed = mixedAttackSetsWarning(winner, runnerUp ? [runnerUp] : [], withModel);
  if (mixed) warnings.push(mixed);
  // Without the unscored list, only the candidates the no-evidence warning names are assessed.
  const listUnscored = options.unscored !== false;
  const unscoredA = (listUnscored ? unscoredAt : unscoredAt.slice(0, NAMED_UNSCORED)).map(assess);
  const ne = noEvidenceWarning(unscoredA, withModel, unscoredAt.length);
  if (ne) warnings.push(ne);
  warnings.push(...coverage);

  const curve = options.curve === false ? [] : [curveSeries(winner, "recommendation"), runnerUp ? curveSeries(runnerUp, "runner-up") : null].filter((c): c is CurveSeries => c !== null);
  let sweep: { shareSweep: ShareSegment[]; sentence: string } | null = null;
  if (share < 1) {
    // Each ranked candidate's score is a straight line over the share, from its clean lower bound
    // (r = 0) to its robust one (r = 1): where the best of them changes is where lines cross.
    const lines = rankedScores.map((x) => ({ item: x, atZero: cleanEstimate(x.candidate.clean).interval.low, atOne: x.robustLow! }));
    const segments = upperEnvelope(lines, (x, y) => tieBreak(x.candidate, y.candidate)).map((g) => ({ from: g.from, to: g.to, assessment: assess(g.item) }));
    sweep = {
      shareSweep: segments.map((g) => ({ from: g.from, to: g.to, candidate: g.assessment.ref })),
      sentence: shareSentence(share, winner, segments, withModel),
    };
  }
  return Object.assign(base(), {
    status: "ok" as const,
    recommendation: winner.summary,
    alternatives,
    unscored: listUnscored ? unscoredA.map(listed) : [],
    comparison,
    evidence: options.evidence === false ? [] : [...evidenceRows(winner), ...(runnerUp ? evidenceRows(runnerUp) : [])],
    curve,
    counts,
    ...(sweep ? { shareSweep: sweep.shareSweep } : {}),
    rationale: rationaleOk(scenario, winner, runnerUp, comparison, counts, limits, withModel, warnings.length, sweep?.sentence),
    warnings,
  });
}
