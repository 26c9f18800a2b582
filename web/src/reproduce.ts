// The question as a command line: the curl request and the `advisor recommend` invocation that
// ask exactly what the page asked (the lean answer, without the page's ?include=). No API key
// ever appears in them: with a key in use, curl reads it from $ADVISOR_API_KEY.
import type { Scenario } from "./types.js";
import { cliFlag } from "./scenario-fields.js";

/** POSIX shell quoting: a bare word when safe, else single quotes. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** [path, value] for every leaf of the scenario, nested objects flattened ("sizeLimit.maxBytes"). */
export function scenarioLeaves(s: Scenario): [string, unknown][] {
  const out: [string, unknown][] = [];
  const walk = (o: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      if (v === undefined) continue;
      const p = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === "object" && !Array.isArray(v)) walk(v as Record<string, unknown>, p);
      else out.push([p, v]);
    }
  };
  walk(s as unknown as Record<string, unknown>, "");
  return out;
}

/** `advisor recommend --url … --norm linf --budget 0.03 …` as arguments (booleans as bare flags when true). */
export function cliArgs(s: Scenario, origin: string): string[] {
  const args = ["advisor", "recommend", "--url", origin];
  for (const [path, value] of scenarioLeaves(s)) {
    if (value === false) continue;
    args.push(cliFlag(path));
    if (value !== true) args.push(String(value));
  }
  return args;
}

export function cliCommand(s: Scenario, origin: string): string {
  return cliArgs(s, origin).map(shellQuote).join(" ");
}

export function curlCommand(s: Scenario, origin: string, withKey: boolean): string {
  const lines = [
    `curl -s -X POST ${shellQuote(`${origin}/v1/recommendations`)}`,
    `-H 'content-type: application/json'`,
    ...(withKey ? [`-H "X-API-Key: $ADVISOR_API_KEY"`] : []),
    `-d ${shellQuote(JSON.stringify(s))}`,
  ];
  return lines.join(" \\\n    ");
}
