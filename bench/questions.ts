// The distinct questions of the advisor benchmarks (bench/distinct-questions.ts drives the service
// with them, bench/route-stages.ts times each stage of answering them): 12,000 distinct (norm,
// budget, knowledge, size limit) combinations, so an answer cache almost never hits.

/** The i-th question's JSON body (i = 1, 2, …; after 12,000 they repeat). */
export function distinctQuestion(i: number): string {
  const k = i % 12_000;
  const norm = (["linf", "l2", "l0"] as const)[k % 3]!;
  const step = Math.floor(k / 3);
  // Budgets on a fine lattice (many between grid points), so each lands on a distinct question.
  const budget = norm === "linf" ? (step % 1000) / 1000 * 0.3 : norm === "l2" ? (step % 1000) / 1000 * 4 : step % 65;
  const knowledge = (["white-box", "transfer", "black-box"] as const)[Math.floor(step / 1000) % 3]!;
  const sizeLimit = step % 2 === 0 ? { minCompression: 1 + (Math.floor(step / 2000) % 4) } : undefined;
  return JSON.stringify({ norm, budget, knowledge, ...(sizeLimit ? { sizeLimit } : {}) });
}
