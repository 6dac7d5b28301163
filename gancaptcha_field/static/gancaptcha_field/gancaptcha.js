/* GanCaptcha refresh button: fetch a new challenge and swap image + key.
 * Without this script the form still works; the button just stays hidden. */
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

  function setUp(root) {
    if (root.dataset.gancaptchaReady) {
      return;
    }
    var button = root.querySelector(".gancaptcha-refresh");
    var image = root.querySelector(".gancaptcha-image");
    var key = root.querySelector("input[type=hidden]");
    var answer = root.querySelector(".gancaptcha-answer");
    var status = root.querySelector(".gancaptcha-status");
    if (!button || !image || !key || !answer || !window.fetch) {
      return;
    }
    root.dataset.gancaptchaReady = "1";
    button.hidden = false;

    button.addEventListener("click", function () {
      var body = new FormData();
      body.append("key", key.value);
      button.disabled = true;
      fetch(root.dataset.refreshUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(root) },
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          key.value = data.key;
          image.src = data.image_url;
          answer.value = "";
          answer.focus();
          status.textContent = root.dataset.refreshedMessage;
        })
        .catch(function () {
          status.textContent = root.dataset.unavailableMessage;
        })
        .then(function () {
          button.disabled = false;
        });
    });
  }

  function init() {
    document.querySelectorAll("[data-gancaptcha]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
