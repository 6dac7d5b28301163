/* GanCaptcha: the refresh and play buttons. Plain JavaScript, no build step.
 *
 * Without this script the form still works: the "reloads the page" link gives
 * a new challenge, and the browser's own audio controls play the digits. */
(function () {
  "use strict";

  function csrfToken(root) {
    var form = root.closest("form");
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) {
      return input.value;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function announce(status, message) {
    // Empty first, then the text: a live region repeats a message only if
    // its content changes, and "New image loaded." may come twice in a row.
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = message;
    }, 100);
  }

  function setUpRefresh(root, parts) {
    var button = root.querySelector(".gancaptcha-refresh");
    var reload = root.querySelector(".gancaptcha-reload");
    if (!button || !window.fetch) {
      return;
    }
    if (reload) {
      reload.hidden = true;
    }
    button.hidden = false;

    button.addEventListener("click", function () {
      // URL-encoded, not FormData: the server parses it for a fraction of the cost.
      var body = new URLSearchParams();
      body.append("key", parts.key.value);
      button.disabled = true;
      fetch(root.dataset.refreshUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(root) },
      })
        .then(function (response) {
          return response.json().then(
            function (data) {
              return { ok: response.ok, data: data };
            },
            function () {
              return { ok: false, data: {} };
            }
          );
        })
        .then(function (result) {
          if (!result.ok) {
            throw new Error(result.data.message || root.dataset.unavailableMessage);
          }
          var data = result.data;
          parts.key.value = data.key;
          // GANCAPTCHA_INLINE_IMAGE: the PNGs came in the JSON, no request more.
          var one = data.image_data_uri || data.image_url;
          var two = data.image_2x_data_uri || data.image_2x_url;
          parts.image.src = one;
          if (two) {
            parts.image.srcset = one + " 1x, " + two + " 2x";
          } else {
            parts.image.removeAttribute("srcset");
          }
          if (parts.audio && data.audio_url) {
            parts.audio.pause();
            parts.audio.src = data.audio_url;
            var link = parts.audio.querySelector("a");
            if (link) {
              link.href = data.audio_url;
            }
          }
          parts.answer.value = "";
          // The proof-of-work script (if any) starts on the new puzzle.
          root.dispatchEvent(new CustomEvent("gancaptcha:challenge", { detail: data }));
          parts.answer.focus();
          announce(parts.status, root.dataset.refreshedMessage);
        })
        .catch(function (error) {
          announce(parts.status, error.message || root.dataset.unavailableMessage);
        })
        .then(function () {
          button.disabled = false;
        });
    });
  }

  function setUpAudio(root, parts) {
    var button = root.querySelector(".gancaptcha-play");
    var audio = parts.audio;
    if (!button || !audio || typeof audio.play !== "function") {
      return;
    }
    // The button replaces the browser's bulkier controls.
    audio.controls = false;
    audio.hidden = true;
    button.hidden = false;

    // A mouse click keeps the focus in the answer field.
    button.addEventListener("mousedown", function (event) {
      event.preventDefault();
    });
    button.addEventListener("click", function () {
      audio.currentTime = 0;
      var playing = audio.play();
      if (playing && typeof playing.catch === "function") {
        playing.catch(function () {
          announce(parts.status, root.dataset.audioErrorMessage);
        });
      }
    });
    // Keyboard users come back to the answer once the digits have been read
    // out, not during, so a screen reader does not talk over them.
    audio.addEventListener("ended", function () {
      if (document.activeElement === button) {
        parts.answer.focus();
      }
    });
    audio.addEventListener("error", function () {
      if (audio.getAttribute("src")) {
        announce(parts.status, root.dataset.audioErrorMessage);
      }
    });
  }

  function setUp(root) {
    if (root.dataset.gancaptchaReady) {
      return;
    }
    var parts = {
      image: root.querySelector(".gancaptcha-image"),
      key: root.querySelector("input[type=hidden]"),
      answer: root.querySelector(".gancaptcha-answer"),
      status: root.querySelector(".gancaptcha-status"),
      audio: root.querySelector(".gancaptcha-audio"),
    };
    if (!parts.image || !parts.key || !parts.answer || !parts.status) {
      return;
    }
    root.dataset.gancaptchaReady = "1";
    setUpRefresh(root, parts);
    setUpAudio(root, parts);
  }

  /* Call setUpOne(root) for every widget once the page is parsed (the
   * proof-of-work script uses it too). */
  function eachWidget(setUpOne) {
    function init() {
      document.querySelectorAll("[data-gancaptcha]").forEach(setUpOne);
    }
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", init);
    } else {
      init();
    }
  }

  window.GanCaptcha = { eachWidget: eachWidget };
  eachWidget(setUp);
})();
