/* GanCaptcha proof-of-work: one Web Worker's share of the nonce search.
 *
 * Message in:  {key, salt, iterations, threshold, start, step}
 * Message out: {nonce} when this worker finds a winning nonce first.
 * The page starts one worker per core (start = 0..n-1, step = n) and stops
 * the others when one wins. PBKDF2 runs in the browser's native Web Crypto. */
"use strict";

var encoder = new TextEncoder();

async function attempt(key, nonce, salt, iterations) {
  var material = await crypto.subtle.importKey(
    "raw",
    encoder.encode(key + ":" + nonce),
    "PBKDF2",
    false,
    ["deriveBits"]
  );
  var bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(salt), iterations: iterations },
    material,
    32
  );
  return new DataView(bits).getUint32(0, false);
}

self.onmessage = async function (event) {
  var task = event.data;
  var nonce = task.start;
  for (;;) {
    if ((await attempt(task.key, nonce, task.salt, task.iterations)) < task.threshold) {
      self.postMessage({ nonce: nonce });
      return;
    }
    nonce += task.step;
  }
};
