// `mixed-attack-sets`: the candidates an answer compares were attacked with different sets of
// attacks. Robust accuracy is an upper bound that only as strong an attack set as was run can
// lower, so a candidate measured with fewer or weaker attacks (rows of an older engine, say, next
// to rebuilt ones) can look more robust than one measured with more — the ranking then compares
// attacks, not pruning. The answer says so and names what differs; it does not re-rank.
import type { Assessment } from "./assess.js";
import { candidateLabel } from "./format.js";
import type { Warning } from "./types.js";

/** The names of the attacks behind an assessment's evidence (its level and the weaker levels merged in), sorted; null without evidence. */
export function attackNamesOf(a: Assessment): string[] | null {
  const e = a.evidence;
  if (e === null) return null;
  const names = new Set<string>();
  for (const ev of [e.primary, ...e.merged]) for (const x of ev.attacks) names.add(x.name);
  return [...names].sort();
}

/** The warning when a compared candidate's (recommend: the runner-up's) attack set differs from the winner's; null when all match. */
export function mixedAttackSetsWarning(winner: Assessment, compared: readonly Assessment[], withModel: boolean): Warning | null {
  const mine = attackNamesOf(winner);
  if (mine === null) return null;
  const key = mine.join(",");
  const differing: string[] = [];
  for (const a of compared) {
    if (a === winner) continue;
    const theirs = attackNamesOf(a);
    if (theirs === null || theirs.join(",") === key) continue;
    const lacks = mine.filter((n) => !theirs.includes(n));
    const extra = theirs.filter((n) => !mine.includes(n));
    const parts = [lacks.length > 0 ? `without ${lacks.join(", ")}` : "", extra.length > 0 ? `with ${extra.join(", ")} as well` : ""].filter((p) => p !== "");
    differing.push(`${candidateLabel(a.ref, withModel)} (${parts.join(" and ")})`);
  }
  if (differing.length === 0) return null;
  return {
    code: "mixed-attack-sets",
    message:
      `The candidates compared were not attacked alike: against ${candidateLabel(winner.ref, withModel)}'s attacks (${mine.join(", ")}), ` +
      `${differing.join("; ")}. A candidate attacked by fewer or weaker attacks can look more robust than it is, so these ranks partly compare attacks; ` +
      `compare candidates of one matrix build (e.g. one architecture) or rebuild the older rows.`,
  };
}
