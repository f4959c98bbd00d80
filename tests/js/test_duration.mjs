import { test } from "node:test";
import assert from "node:assert/strict";
import { durationWords } from "../../static/capture/duration.js";

test("durations read as people say them, like the server's duration_words", () => {
  for (const [seconds, words] of [
    [0, "0 s"], [42, "42 s"], [59.9, "59 s"], [60, "1 min"], [221, "3 min 41 s"],
    [3600, "1 h"], [3900, "1 h 5 min"], [3959, "1 h 5 min"], [-3, "0 s"], ["x", "0 s"],
  ]) {
    assert.equal(durationWords(seconds), words, String(seconds));
  }
});
