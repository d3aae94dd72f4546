// The live view: events arrive over Server-Sent Events (/events) and are
// added on top of the list the server rendered. Without this script the
// page is a plain paged list. Nothing here comes from another site.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const rows = document.getElementById("rows");
  const count = document.getElementById("count");
  const maxRows = 500;
  const streamURL = live.dataset.stream;
  let after = live.dataset.after;
  let source = null;

  function status(text, cls) {
    live.textContent = text;
    live.className = cls;
  }

  function cell(tr, cls) {
    const td = document.createElement("td");
    td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  // addRow shows one event, once: a row with its seq_id is never added
  // twice (the page and the stream may both have it).
  function addRow(ev) {
    if (document.getElementById("ev-" + ev.seq)) {
      return;
    }
    const tr = document.createElement("tr");
    tr.id = "ev-" + ev.seq;
    tr.dataset.seq = String(ev.seq);
    tr.className = "new";
    cell(tr, "time").appendChild(link("/event?id=" + encodeURIComponent(ev.msg_id), ev.time));
    cell(tr, "topic").textContent = ev.topic;
    const summary = cell(tr, "summary");
    if (ev.url && /^https?:\/\//.test(ev.url)) {
      const a = link(ev.url, ev.summary);
      a.rel = "noreferrer";
      summary.appendChild(a);
    } else {
      summary.textContent = ev.summary;
    }
    if (ev.pruned) {
      const span = document.createElement("span");
      span.className = "pruned";
      span.textContent = " (body pruned)";
      summary.appendChild(span);
    }
    const pkgs = cell(tr, "packages");
    for (const p of ev.packages || []) {
      pkgs.appendChild(link("/?package=" + encodeURIComponent(p), p));
      pkgs.appendChild(document.createTextNode(" "));
    }
    const trust = cell(tr, "trust " + (ev.trust || ""));
    trust.textContent = ev.trust || "–";
    rows.insertBefore(tr, rows.firstChild);
    count.textContent = String(Number(count.textContent) + 1);
    while (rows.children.length > maxRows) {
      rows.lastElementChild.remove();
    }
  }

  function connect() {
    const url = streamURL + (streamURL.includes("?") ? "&" : "?") + "after=" + encodeURIComponent(after);
    source = new EventSource(url);
    source.onopen = function () {
      status("live", "live-on");
    };
    source.onmessage = function (e) {
      if (e.lastEventId) {
        after = e.lastEventId;
      }
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      addRow(ev);
    };
    source.addEventListener("skipped", function (e) {
      if (e.lastEventId) {
        after = e.lastEventId;
      }
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = "This page fell behind and skipped some events; reload to see them all.";
      rows.parentNode.parentNode.insertBefore(note, rows.parentNode);
    });
    source.onerror = function () {
      status("reconnecting…", "live-wait");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (the listener refused the stream): try
        // again later, from the last event shown.
        source.close();
        setTimeout(connect, 5000);
      }
    };
  }
  connect();
})();
