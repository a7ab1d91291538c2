/*
 * bibid/webauthn.js: the browser side of WebAuthn (passkeys, security keys) for every service.
 * A static file, loaded with <script src defer>, because the CSP allows no inline script.
 * The server side is bibid.common.webauthn (py_webauthn).
 *
 * Markup (one form per ceremony; any number per page):
 *
 *   <form method="post" action="FINISH_URL" hidden
 *         data-webauthn="create"            (registration)  or  "get"  (authentication)
 *         data-webauthn-begin="BEGIN_URL"
 *         data-webauthn-failed="Dutch/English text shown when the browser or the person
 *                               cancels or the authenticator refuses">
 *     {% csrf_token %}
 *     ...other inputs (a passkey's name, `next`)...
 *     <button type="submit">...</button>
 *     <p class="alert" data-webauthn-error role="alert" hidden></p>
 *   </form>
 *
 * The form is `hidden` in the markup and shown here only when the browser has WebAuthn, so a
 * browser without it (or without JavaScript) never sees a button that cannot work.
 *
 * On submit:
 *   1. POST BEGIN_URL, body JSON {"fields": {the form's inputs}}, header X-CSRFToken (taken
 *      from the form's csrfmiddlewaretoken: the CSRF cookie is HttpOnly). The answer is JSON
 *      {"publicKey": options} (bibid.common.webauthn's begin_* output) or {"error": text}.
 *   2. navigator.credentials.create() or .get() with those options (base64url -> bytes).
 *   3. POST FINISH_URL, body JSON {"credential": {...base64url...}, "fields": {...}}, same
 *      header. The answer is {"redirect": url} (followed) or {"error": text} (shown in the
 *      form's [data-webauthn-error] element, which is a live region for screen readers).
 *
 * Errors from the server are shown as they come (the server chose one generic text); errors
 * in the browser (cancelled, timed out, no matching passkey) show data-webauthn-failed.
 */
(function () {
  "use strict";

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type || "public-key", id: toBytes(c.id) };
      if (c.transports) d.transports = c.transports;
      return d;
    });
  }

  function creationOptions(o) {
    var copy = Object.assign({}, o);
    copy.challenge = toBytes(o.challenge);
    copy.user = Object.assign({}, o.user, { id: toBytes(o.user.id) });
    copy.excludeCredentials = descriptors(o.excludeCredentials);
    return copy;
  }

  function requestOptions(o) {
    var copy = Object.assign({}, o);
    copy.challenge = toBytes(o.challenge);
    if (o.allowCredentials) copy.allowCredentials = descriptors(o.allowCredentials);
    return copy;
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  }

  function fields(form) {
    var out = {};
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrfmiddlewaretoken" && typeof value === "string") out[key] = value;
    });
    return out;
  }

  function post(form, url, body) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": token ? token.value : "",
      },
      body: JSON.stringify(body),
    }).then(function (resp) {
      return resp.json().catch(function () {
        return { error: form.dataset.webauthnFailed || resp.statusText };
      });
    });
  }

  function showError(form, text) {
    var box = form.querySelector("[data-webauthn-error]");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function run(form) {
    var kind = form.dataset.webauthn;
    var button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    showError(form, "");
    var payload = fields(form);
    var browserFailed = false;
    return post(form, form.dataset.webauthnBegin, { fields: payload })
      .then(function (begun) {
        if (begun.error || !begun.publicKey) throw new Error(begun.error || "");
        browserFailed = true;
        var call =
          kind === "create"
            ? navigator.credentials.create({ publicKey: creationOptions(begun.publicKey) })
            : navigator.credentials.get({ publicKey: requestOptions(begun.publicKey) });
        return call;
      })
      .then(function (cred) {
        browserFailed = false;
        return post(form, form.action, { credential: credentialJSON(cred), fields: payload });
      })
      .then(function (done) {
        if (done.redirect) {
          window.location.assign(done.redirect);
          return;
        }
        throw new Error(done.error || "");
      })
      .catch(function (err) {
        // The browser's own exception text (NotAllowedError, ...) is English and technical;
        // the page's text says what to do instead.
        var text = browserFailed ? "" : err && err.message;
        showError(form, text || form.dataset.webauthnFailed || "WebAuthn");
        if (button) button.disabled = false;
      });
  }

  function init() {
    var supported =
      window.PublicKeyCredential && navigator.credentials && typeof fetch === "function";
    document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
      if (!supported) return;
      form.hidden = false;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        run(form);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
