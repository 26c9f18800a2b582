// The `mixed-attack-sets` warning: candidates compared in one answer whose evidence came from
// different attack sets (an older engine's rows next to rebuilt ones) are named with what differs;
// candidates attacked alike get no such warning. Plain data, plain and prepared snapshots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { prepareSnapshot, recommend, type MatrixSnapshot } from "../../src/advisor/index.js";
import { candidate, evaluation, runs } from "./fixtures.js";

const PGD = { name: "pgd-linf", params: { steps: 40 } };
const APGD = { name: "apgd-ce-linf", params: { steps: 100 } };
const FMN = { name: "fmn-linf", params: { steps: 100 } };

/** dense and random 4× at L∞ white-box; random 4× also has a transfer row, which lowers no distance and so is not part of its evidence. */
function matrix(denseAttacks: { name: string; params: Record<string, unknown> }[], prunedAttacks: { name: string; params: Record<string, unknown> }[]): MatrixSnapshot {
  const budgets = [0.05, 0.1, 0.2];
  const withAttacks = (e: ReturnType<typeof evaluation>, attacks: typeof denseAttacks): ReturnType<typeof evaluation> => ({ ...e, attacks });
  return {
    version: 1,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 60_000, clean: [910, 1000], evaluations: [withAttacks(evaluation({ distances: runs([[0, 10], [0.05, 30], [Infinity, 60]]), budgets }), denseAttacks)] }),
      candidate({
        strategy: "random",
        rate: 4,
        nonZeroParams: 15_000,
        clean: [900, 1000],
        evaluations: [
          withAttacks(evaluation({ distances: runs([[0, 10], [0.05, 20], [Infinity, 70]]), budgets }), prunedAttacks),
          withAttacks(evaluation({ distances: runs([[0, 10], [0.05, 20], [Infinity, 70]]), budgets, knowledge: "transfer" }), [{ name: "square-linf", params: {} }]),
        ],
      }),
    ],
  };
}

for (const prepare of [false, true]) {
  const label = prepare ? "prepared" : "plain";
  test(`${label}: candidates attacked with different attack sets are named with what differs`, () => {
    const m = matrix([PGD, FMN], [PGD, FMN, APGD]);
    const r = recommend(prepare ? prepareSnapshot(m) : m, { norm: "linf", budget: 0.1, knowledge: "white-box" });
    assert.equal(r.recommendation?.strategy, "random");
    const w = r.warnings.find((x) => x.code === "mixed-attack-sets");
    assert.ok(w, JSON.stringify(r.warnings.map((x) => x.code)));
    assert.match(w.message, /against random at 4×'s attacks \(apgd-ce-linf, fmn-linf, pgd-linf\), the dense model \(without apgd-ce-linf\)/);
  });

  test(`${label}: no mixed-attack-sets warning when every candidate was attacked alike`, () => {
    const m = matrix([PGD, FMN, APGD], [APGD, PGD, FMN]);
    const r = recommend(prepare ? prepareSnapshot(m) : m, { norm: "linf", budget: 0.1, knowledge: "white-box" });
    assert.equal(r.recommendation?.strategy, "random");
    assert.ok(!r.warnings.some((x) => x.code === "mixed-attack-sets"), JSON.stringify(r.warnings));
  });
}
