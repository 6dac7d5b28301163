/* GanCaptcha proof-of-work: solves each challenge's puzzle in Web Workers
 * and writes the solution into the form before it is sent.
 *
 * A widget with proof-of-work carries a hidden input marked
 * data-gancaptcha-pow, whose data-pow-* attributes hold the puzzle. Without
 * JavaScript (or without Web Crypto) the input stays empty and the server applies its stricter no-JS
 * limits instead. A new challenge (the refresh button) dispatches
 * "gancaptcha:challenge" with the new puzzle on the widget, and the search
 * starts again.
 *
 * It also runs the way through without reading: a widget that offers it has
 * a hidden "Verify without reading" button (shown here, when the browser can
 * run the work) and a hidden input marked data-gancaptcha-no-reading. The
 * button asks the server for a heavier puzzle bound to the challenge (no
 * cookie sent), solves it in Web Workers, announces its progress in the
 * widget's aria-live status, and writes the solution into the input; the
 * answer is then no longer required. */
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
    holdSubmit(
      root,
      function () {
        return root.dataset.powState === "working";
      },
      "gancaptcha:pow-solved"
    );
  }

  function say(status, message) {
    // Empty first: a live region repeats a message only if it changes.
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = message;
    }, 100);
  }

  /* Submitting while the work runs waits for it, then goes on. */
  function holdSubmit(root, busy, doneEvent) {
    var form = root.closest("form");
    if (!form) {
      return;
    }
    form.addEventListener("submit", function (event) {
      if (!busy()) {
        return;
      }
      event.preventDefault();
      root.addEventListener(
        doneEvent,
        function () {
          form.requestSubmit ? form.requestSubmit() : form.submit();
        },
        { once: true }
      );
    });
  }

  function setUpNoReading(root) {
    var button = root.querySelector(".gancaptcha-no-reading");
    var solved = root.querySelector("input[data-gancaptcha-no-reading]");
    var key = root.querySelector(
      "input[type=hidden]:not([data-gancaptcha-pow]):not([data-gancaptcha-no-reading])"
    );
    var answer = root.querySelector(".gancaptcha-answer");
    var status = root.querySelector(".gancaptcha-status");
    if (!button || !solved || !key || !answer || !status || !window.fetch) {
      return;
    }
    if (!window.Worker || !window.crypto || !window.crypto.subtle) {
      return; // the button stays hidden: this browser cannot do the work
    }
    var data = button.dataset;
    var run = null;
    var wasRequired = answer.required;
    button.hidden = false;

    function settle(state) {
      root.dataset.noReadingState = state;
      button.removeAttribute("aria-busy");
      button.setAttribute("aria-disabled", state === "done" ? "true" : "false");
    }

    function reset() {
      if (run) {
        run.cancel();
      }
      run = null;
      solved.value = "";
      answer.required = wasRequired;
      delete root.dataset.noReadingState;
      button.removeAttribute("aria-busy");
      button.setAttribute("aria-disabled", "false");
    }

    button.addEventListener("click", function () {
      if (run) {
        return; // working, or done: aria-disabled, not disabled, keeps focus
      }
      var mine = {
        cancelled: false,
        puzzle: null,
        cancel: function () {
          this.cancelled = true;
          window.clearTimeout(this.timer);
          if (this.puzzle && this.puzzle.cancel) {
            this.puzzle.cancel();
          }
        },
      };
      run = mine;
      root.dataset.noReadingState = "working";
      button.setAttribute("aria-busy", "true");
      button.setAttribute("aria-disabled", "true");
      say(status, data.workingMessage);
      mine.timer = window.setTimeout(function () {
        say(status, data.stillMessage);
      }, 5000);
      var began = performance.now();
      var body = new URLSearchParams();
      body.append("key", key.value);
      fetch(data.url, { method: "POST", body: body, credentials: "omit" })
        .then(function (response) {
          return response.json().then(
            function (json) {
              return { ok: response.ok, json: json };
            },
            function () {
              return { ok: false, json: {} };
            }
          );
        })
        .then(function (result) {
          if (mine.cancelled) {
            return;
          }
          if (!result.ok || !result.json.no_reading) {
            // The server's sentence (rate-limited, expired), in the page's language.
            throw { spoken: result.json.message };
          }
          var puzzle = result.json.no_reading;
          puzzle.worker = data.worker;
          mine.puzzle = puzzle;
          return solve(puzzle).then(function (solution) {
            if (mine.cancelled) {
              return;
            }
            window.clearTimeout(mine.timer);
            solved.value = solution;
            answer.required = false;
            root.dataset.noReadingMilliseconds = String(
              Math.round(performance.now() - began)
            );
            settle("done");
            say(status, data.doneMessage);
            root.dispatchEvent(new CustomEvent("gancaptcha:no-reading-done"));
          });
        })
        .catch(function (error) {
          if (mine.cancelled) {
            return;
          }
          window.clearTimeout(mine.timer);
          run = null;
          settle("failed");
          // A network or worker error is no sentence for a person.
          say(status, (error && error.spoken) || data.failedMessage);
          root.dispatchEvent(new CustomEvent("gancaptcha:no-reading-done"));
        });
    });
    // A new challenge: the solution was bound to the old key.
    root.addEventListener("gancaptcha:challenge", reset);
    holdSubmit(
      root,
      function () {
        return root.dataset.noReadingState === "working";
      },
      "gancaptcha:no-reading-done"
    );
  }

  window.GanCaptchaPow = { solve: solve };
  // gancaptcha.js comes first in the widget's media; a page without widgets
  // (the cost benchmark) uses solve() alone.
  if (window.GanCaptcha) {
    window.GanCaptcha.eachWidget(setUp);
    window.GanCaptcha.eachWidget(setUpNoReading);
  }
})();
