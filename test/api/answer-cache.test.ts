// The answer cache keeps an answer from the second time its question is asked (src/api/answer-cache.ts):
// a stream of different questions keeps nothing but their keys, a repeated one is answered from the cache.
import assert from "node:assert/strict";
import test from "node:test";
import { AnswerCache } from "../../src/api/answer-cache.js";
import type { MatrixSnapshot } from "../../src/advisor/types.js";

const snapshot = { version: 1, candidates: [] } as unknown as MatrixSnapshot;

function counting(cache: AnswerCache): { ask: (q: number) => string; made: () => number } {
  let made = 0;
  return {
    ask: (q) =>
      cache
        .get(cache.key(1, snapshot, { q }), () => {
          made++;
          return { body: { answer: q }, status: "ok" };
        })
        .body.toString(),
    made: () => made,
  };
}

test("a question is answered anew the first two times, then from the cache; the bytes never change", () => {
  const cache = new AnswerCache();
  const { ask, made } = counting(cache);
  const first = ask(7);
  assert.equal(first, '{"answer":7}');
  assert.deepEqual([cache.stats().entries, made()], [0, 1], "asked once: not kept");
  assert.equal(ask(7), first);
  assert.deepEqual([cache.stats().entries, made()], [1, 2], "asked twice: kept");
  assert.equal(ask(7), first);
  assert.deepEqual([cache.stats().hits, made()], [1, 2], "the third time is a hit");
});

test("different questions keep no answers; bounds hold on entries, bytes and remembered questions", () => {
  const cache = new AnswerCache(3, 1024 * 1024, 5);
  const { ask, made } = counting(cache);
  for (let q = 0; q < 100; q++) ask(q);
  assert.deepEqual([cache.stats().entries, cache.stats().bytes, made()], [0, 0, 100]);
  // Remembered: the last 5..10 questions (two generations of 5), not question 0.
  ask(99);
  assert.equal(cache.stats().entries, 1, "99 was asked recently: kept now");
  ask(0);
  assert.equal(cache.stats().entries, 1, "0 was forgotten: asked once again, not kept");
  for (const q of [200, 201, 202, 203]) {
    ask(q);
    ask(q);
  }
  assert.equal(cache.stats().entries, 3, "at most maxEntries answers");
  const before = made();
  ask(203);
  assert.equal(made(), before, "the most recent is still there");
  ask(200);
  assert.equal(made(), before + 1, "the least recently used went first");
});
