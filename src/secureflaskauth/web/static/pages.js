// The pages work without this script, except for passkeys, which only a script can
// use (the browser's WebAuthn API). It
// - counts down the wait before a new code may be asked for, keeping the button off;
// - shows what needs passkeys where the browser has them ([data-webauthn-only]) and
//   hides the notes that say it does not ([data-no-webauthn]);
// - runs the passkey ceremonies of the forms that ask for one, and puts the result in
//   the form as JSON text: [data-passkey="get"] (sign-in: the options come from
//   data-options), [data-passkey="create"] (a new passkey: data-options-json) and
//   [data-step-up] (a sensitive action: an assertion in "webauthn", unless a recovery
//   code is typed);
// - fills in a code sent by SMS where the browser can read it (WebOTP), and sends the
//   form when it says so ([data-webotp-submit]).
(function () {
  "use strict";

  function countdown(text) {
    var left = parseInt(text.getAttribute("data-countdown"), 10);
    var button = document.querySelector('[data-wait-for="' + text.id + '"]');
    if (!(left > 0)) return;
    if (button) button.disabled = true;
    function show() {
      if (left <= 0) {
        text.textContent = text.getAttribute("data-done");
        if (button) button.disabled = false;
        return;
      }
      var template = text.getAttribute(left === 1 ? "data-one" : "data-many");
      text.textContent = template.replace("{n}", String(left));
      left -= 1;
      window.setTimeout(show, 1000);
    }
    show();
  }
  document.querySelectorAll("[data-countdown]").forEach(countdown);

  // -- passkeys ------------------------------------------------------------------------
  // The options and results travel as JSON, with binary members in base64url (WebAuthn
  // Level 3 5.4 and 5.5, PublicKeyCredential.toJSON()); converted by hand here, so
  // browsers without parseCreationOptionsFromJSON() work too.
  var webauthn = !!(window.PublicKeyCredential && navigator.credentials);
  document.querySelectorAll("[data-webauthn-only]").forEach(function (el) {
    el.hidden = !webauthn;
  });
  document.querySelectorAll("[data-no-webauthn]").forEach(function (el) {
    el.hidden = webauthn;
  });

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "====".slice((base64.length % 4) || 4);
    return Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); });
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }
  function asJson(credential) {
    var r = credential.response, response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return JSON.stringify({
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(), response: response
    });
  }
  function assertion(options) {
    return navigator.credentials.get({ publicKey: Object.assign({}, options, {
      challenge: toBytes(options.challenge), allowCredentials: withIds(options.allowCredentials)
    }) });
  }
  function creation(options) {
    return navigator.credentials.create({ publicKey: Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      user: Object.assign({}, options.user, { id: toBytes(options.user.id) }),
      excludeCredentials: withIds(options.excludeCredentials)
    }) });
  }
  // The options, from a route of the pages (a POST with the form's CSRF token); a
  // refusal carries the words to show.
  function fetchOptions(url, form) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (answer) {
        return answer.json().then(function (data) {
          if (!answer.ok) throw { message: data.message };
          return data;
        });
      });
  }
  function say(form, error) {
    var status = form.querySelector("[data-passkey-status]");
    if (!status) return;
    var cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
    status.textContent = (error && error.message && !error.name) ? error.message
      : status.getAttribute(cancelled ? "data-cancelled" : "data-failed");
  }
  // One ceremony at a time per form; the form is sent once its field is filled.
  function ceremony(form, field, run) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-busy") || !webauthn) return;
      if (!run.needed()) return;
      event.preventDefault();
      form.setAttribute("data-busy", "1");
      var status = form.querySelector("[data-passkey-status]");
      if (status) status.textContent = "";
      run.start().then(function (credential) {
        form.elements[field].value = asJson(credential);
        form.submit();
      }).catch(function (error) {
        form.removeAttribute("data-busy");
        say(form, error);
      });
    });
  }
  document.querySelectorAll('form[data-passkey="get"]').forEach(function (form) {
    ceremony(form, "credential", {
      needed: function () { return true; },
      start: function () {
        return fetchOptions(form.getAttribute("data-options"), form).then(assertion);
      }
    });
  });
  document.querySelectorAll('form[data-passkey="create"]').forEach(function (form) {
    var options = JSON.parse(form.getAttribute("data-options-json"));
    ceremony(form, "credential", {
      needed: function () { return true; },
      start: function () { return creation(options); }
    });
  });
  document.querySelectorAll("form[data-step-up]").forEach(function (form) {
    ceremony(form, "webauthn", {
      // A recovery code typed in its place needs no passkey.
      needed: function () {
        var code = form.elements.recovery_code;
        return !(code && code.value.trim()) && !form.elements.webauthn.value;
      },
      start: function () {
        return fetchOptions(form.getAttribute("data-step-up"), form).then(assertion);
      }
    });
  });

  // -- WebOTP --------------------------------------------------------------------------
  // https://wicg.github.io/web-otp/: the browser offers the code of an SMS that ends
  // with "@<this host> #<code>" (SFA_WEBOTP_HOST); nothing happens where it cannot.
  var code = document.querySelector("input[data-webotp]");
  if (code && "OTPCredential" in window) {
    var abort = new AbortController();
    code.form.addEventListener("submit", function () { abort.abort(); });
    navigator.credentials.get({ otp: { transport: ["sms"] }, signal: abort.signal })
      .then(function (otp) {
        if (!otp || !otp.code) return;
        code.value = otp.code;
        if (code.form.hasAttribute("data-webotp-submit")) code.form.submit();
      })
      .catch(function () { /* not offered, cancelled, or typed by hand meanwhile */ });
  }
})();
