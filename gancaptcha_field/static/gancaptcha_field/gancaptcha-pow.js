/* GanCaptcha proof-of-work: solves each challenge's puzzle in Web Workers
 * and writes the solution into the form before it is sent.
 *
 * A widget with proof-of-work carries a hidden input marked
 * data-gancaptcha-pow, whose data-pow-* attributes hold the puzzle. Without
 * JavaScript (or without Web Crypto) the input stays empty and the server applies its stricter no-JS
 * limits instead. A new challenge (the refresh button) dispatches
 * "gancaptcha:challenge" with the new puzzle on the widget, and the search
 * starts again. */
(function () {
  "use strict";

  // The widget names the worker's URL (data-pow-worker, from Django's static
  // storage, so hashed names work); a bare solve() call guesses it from this
  // script's own address.
  var GUESSED_WORKER_URL = document.currentScript
    ? document.currentScript.src.replace(/gancaptcha-pow\.js(\?.*)?$/, "pow-worker.js")
    : "";

  function workerCount() {
    var cores = navigator.hardwareConcurrency || 2;
    return Math.max(1, Math.min(cores, 4));
  }

  /* Resolve with "tries.iterations.salt.nonce"; reject if it cannot run. */
  function solve(puzzle) {
    return new Promise(function (resolve, reject) {
      var workerUrl = puzzle.worker || GUESSED_WORKER_URL;
      if (!window.Worker || !window.crypto || !window.crypto.subtle || !workerUrl) {
        reject(new Error("proof-of-work unsupported"));
        return;
      }
      var count = workerCount();
      var workers = [];
      function stopAll() {
        workers.forEach(function (w) {
          w.terminate();
        });
      }
      for (var i = 0; i < count; i++) {
        var worker = new Worker(workerUrl);
        worker.onmessage = function (event) {
          stopAll();
          resolve(
            [puzzle.tries, puzzle.iterations, puzzle.salt, event.data.nonce].join(".")
          );
        };
        worker.onerror = function (error) {
          stopAll();
          reject(error);
        };
        workers.push(worker);
        worker.postMessage({
          key: puzzle.key,
          salt: puzzle.salt,
          iterations: puzzle.iterations,
          threshold: puzzle.threshold,
          start: i,
          step: count,
        });
      }
      puzzle.cancel = stopAll;
    });
  }

  function puzzleOf(input, key) {
    return {
      key: key,
      tries: Number(input.dataset.powTries),
      iterations: Number(input.dataset.powIterations),
      salt: input.dataset.powSalt,
      threshold: Number(input.dataset.powThreshold),
      worker: input.dataset.powWorker,
    };
  }

  function start(root, puzzle) {
    var input = root.querySelector("input[data-gancaptcha-pow]");
    if (!input) {
      return;
    }
    if (root._gancaptchaPuzzle && root._gancaptchaPuzzle.cancel) {
      root._gancaptchaPuzzle.cancel();
    }
    root._gancaptchaPuzzle = puzzle;
    input.value = "";
    root.dataset.powState = "working";
    var began = performance.now();
    solve(puzzle).then(
      function (solution) {
        if (root._gancaptchaPuzzle !== puzzle) {
          return; // a newer challenge replaced this one
        }
        input.value = solution;
        root.dataset.powState = "done";
        root.dataset.powMilliseconds = String(Math.round(performance.now() - began));
        root.dispatchEvent(new CustomEvent("gancaptcha:pow-solved"));
      },
      function () {
        root.dataset.powState = "unsupported";
      }
    );
  }

  function setUp(root) {
    var keyInput = root.querySelector("input[type=hidden]:not([data-gancaptcha-pow])");
    var powInput = root.querySelector("input[data-gancaptcha-pow]");
    if (!powInput || !powInput.dataset.powSalt || !keyInput) {
      return;
    }
    start(root, puzzleOf(powInput, keyInput.value));
    root.addEventListener("gancaptcha:challenge", function (event) {
      var pow = event.detail && event.detail.pow;
      if (pow) {
        powInput.dataset.powTries = pow.tries;
        powInput.dataset.powIterations = pow.iterations;
        powInput.dataset.powSalt = pow.salt;
        powInput.dataset.powThreshold = pow.threshold;
        start(root, puzzleOf(powInput, event.detail.key));
      }
    });
    // A submit before the work is done waits for it, then goes on.
    var form = root.closest("form");
    if (form) {
      form.addEventListener("submit", function (event) {
        if (root.dataset.powState !== "working") {
          return;
        }
        event.preventDefault();
        root.addEventListener(
          "gancaptcha:pow-solved",
          function () {
            form.requestSubmit ? form.requestSubmit() : form.submit();
          },
          { once: true }
        );
      });
    }
  }

  window.GanCaptchaPow = { solve: solve };
  // gancaptcha.js comes first in the widget's media; a page without widgets
  // (the cost benchmark) uses solve() alone.
  if (window.GanCaptcha) {
    window.GanCaptcha.eachWidget(setUp);
  }
})();
