import { test } from "node:test";
import assert from "node:assert/strict";
import { wilson } from "../../src/engine/stats.js";

test("Wilson intervals match published values", () => {
  // Wilson (1927) / Newcombe (1998) worked examples: 81/263 → [0.2553, 0.3662]; 0/10 → [0, 0.2775].
  const a = wilson(81, 263);
  assert.ok(Math.abs(a.low - 0.2553) < 5e-4 && Math.abs(a.high - 0.3662) < 5e-4, JSON.stringify(a));
  const b = wilson(0, 10);
  assert.equal(b.low, 0);
  assert.ok(Math.abs(b.high - 0.2775) < 5e-4, JSON.stringify(b));
  const c = wilson(10, 10);
  assert.equal(c.high, 1);
  assert.ok(Math.abs(c.low - 0.7225) < 5e-4);
  assert.deepEqual(wilson(0, 0), { low: 0, high: 1 });
  assert.throws(() => wilson(3, 2), RangeError);
  assert.throws(() => wilson(1.5, 2), RangeError);
});
