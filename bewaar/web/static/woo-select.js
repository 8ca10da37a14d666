/* Redaction by selecting text on a Woo request's page (/woo/{id}?doc=N; bewaar/web/woo_pages.py).
 *
 * Progressive enhancement: without this script the page shows the text and the phrase form
 * works; with it, the form #woo-redact-selection appears. Select a passage in #doc-text (mouse,
 * or keyboard with caret browsing), choose the ground, press the button: the passage's exact
 * text, its offsets (in characters, as Python counts them: code points) and its occurrence in
 * the text go to the same POST /woo/{id}/redact as the phrase form, which redacts that passage
 * only. The result is announced in the form's live region (role=status) and the marked text and
 * the list of redactions are brought up to date. Served from this host; nothing else is loaded.
 */
(function () {
  "use strict";
  var form = document.getElementById("woo-redact-selection");
  var pre = document.getElementById("doc-text");
  if (!form || !pre || !window.fetch || !window.getSelection) {
    return; // the phrase form stays, the text is shown without the tool
  }
  var status = document.getElementById("redact-selection-status");
  var chosen = null; // the last passage selected inside the text
  var timer = null;

  function say(text) {
    status.textContent = text;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  function codePoints(text) {
    return Array.from(text).length;
  }

  // The selection as {start, end, text, occurrence} when it lies inside the text, else null.
  function measure() {
    var sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) {
      return null;
    }
    var range = sel.getRangeAt(0);
    if (!pre.contains(range.startContainer) || !pre.contains(range.endContainer)) {
      return null;
    }
    var before = document.createRange();
    before.setStart(pre, 0);
    before.setEnd(range.startContainer, range.startOffset);
    var prefix = before.toString();
    var text = range.toString();
    var lead = text.length - text.replace(/^\s+/, "").length;
    prefix += text.slice(0, lead);
    text = text.trim();
    if (!text) {
      return null;
    }
    var all = pre.textContent;
    var occurrence = 0;
    var i = all.indexOf(text);
    while (i !== -1 && i < prefix.length) {
      occurrence += 1;
      i = all.indexOf(text, i + text.length);
    }
    var start = codePoints(prefix);
    return {start: start, end: start + codePoints(text), text: text, occurrence: occurrence};
  }

  document.addEventListener("selectionchange", function () {
    var found = measure();
    var sel = window.getSelection();
    if (found) {
      chosen = found;
    } else if (sel && sel.rangeCount && pre.contains(sel.getRangeAt(0).startContainer)) {
      chosen = null; // a click in the text without a passage
    } else {
      return; // focus moved to the form: keep what was selected
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      if (chosen) {
        var shown = chosen.text.length > 80 ? chosen.text.slice(0, 77) + "…" : chosen.text;
        say(fill(form.dataset.msgSelected, {n: chosen.end - chosen.start,
                                            start: chosen.start, text: shown}));
      }
    }, 400);
  });

  function refresh() {
    return fetch(window.location.pathname + window.location.search, {
      headers: {Accept: "text/html"}, credentials: "same-origin"
    }).then(function (response) {
      return response.text();
    }).then(function (body) {
      var fresh = new DOMParser().parseFromString(body, "text/html");
      ["doc-text", "redactions"].forEach(function (id) {
        var now = document.getElementById(id);
        var then = fresh.getElementById(id);
        if (now && then) {
          now.innerHTML = then.innerHTML;
        }
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    if (!chosen) {
      say(form.dataset.msgEmpty);
      return;
    }
    form.elements.start.value = chosen.start;
    form.elements.end.value = chosen.end;
    form.elements.selected.value = chosen.text;
    form.elements.occurrence.value = chosen.occurrence;
    var button = document.getElementById("redact-selection-button");
    button.disabled = true;
    say(form.dataset.msgBusy);
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: {Accept: "application/json"},
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) {
        return {ok: response.ok, data: data};
      });
    }).then(function (result) {
      if (!result.ok) {
        say(result.data.message || result.data.detail || form.dataset.msgFailed);
        return null;
      }
      chosen = null;
      window.getSelection().removeAllRanges();
      return refresh().then(function () {
        say(result.data.message);
        pre.dataset.redacted = String(result.data.redaction);
      });
    }).catch(function () {
      say(form.dataset.msgFailed);
    }).then(function () {
      button.disabled = false;
    });
  });

  form.hidden = false;
})();
