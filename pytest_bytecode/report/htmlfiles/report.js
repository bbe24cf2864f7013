// pytest-bytecode HTML report: sorting and filtering on the index page; on a
// file page, j/k navigation, the heat toggle, a line's instructions on hover
// or focus, and the disassembly panel linked both ways with the source;
// with per-test contexts, the tests that ran a line or an instruction.
// No network: everything a page needs is in it (the counts as JSON).
"use strict";

(function () {
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  // --- index page -----------------------------------------------------------
  function setUpIndex() {
    var table = document.getElementById("index");
    var tbody = table.tBodies[0];
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      th.querySelector("button").addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.dataset.type === "num";
        var rows = Array.prototype.slice.call(tbody.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          var d = numeric ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
          return ascending ? d : -d;
        });
        rows.forEach(function (r) { tbody.appendChild(r); });
      });
    });
    var filter = document.getElementById("filter");
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase();
      var t = {i: 0, m: 0, b: 0, bm: 0};
      Array.prototype.forEach.call(tbody.rows, function (r) {
        var show = r.cells[0].dataset.v.toLowerCase().indexOf(words) !== -1;
        r.hidden = !show;
        if (show) {
          t.i += +r.dataset.i; t.m += +r.dataset.m; t.b += +r.dataset.b; t.bm += +r.dataset.bm;
        }
      });
      document.getElementById("t-i").textContent = t.i;
      document.getElementById("t-m").textContent = t.m;
      document.getElementById("t-b").textContent = t.b;
      document.getElementById("t-bm").textContent = t.bm;
      var pct = t.i ? 100 * (t.i - t.m) / t.i : 100;
      document.getElementById("t-c").textContent = pct.toFixed(2) + "%";
    });
  }

  // --- file page --------------------------------------------------------------
  var data = null;       // the page's counts, parsed on first use
  var byLine = null;     // line -> [[code index, instruction index], ...]

  function counts() {
    if (data === null) {
      data = JSON.parse(document.getElementById("bcdata").textContent);
      byLine = {};
      data.codes.forEach(function (code, c) {
        code.i = code.o.map(function (offset, k) {
          return [offset, data.ops[code.n[k]], code.l[k], code.c[k], code.a[k]];
        });
        code.br = {};
        code.bj = {};
        code.b.forEach(function (b, j) { code.br[b[0]] = b; code.bj[b[0]] = j; });
        code.i.forEach(function (ins, k) {
          if (ins[2] === null) return;
          (byLine[ins[2]] = byLine[ins[2]] || []).push([c, k]);
        });
      });
    }
    return data;
  }

  // --- contexts: only on pages of a run that recorded them (data.cx) -------
  // data.cs holds each distinct set of contexts once; lines (data.L),
  // instructions (code.x) and jump outcomes (code.y) name a set by number.
  var TIP_NAMES = 12;    // names listed on hover; a click lists them all

  function contextSet(id) { return id === undefined ? [] : data.cs[id]; }

  function lineContexts(n) { return contextSet(data.L[n]); }

  function instructionContexts(code, k) { return code.x ? contextSet(code.x[k]) : []; }

  function outcomeContexts(code, offset, jumped) {
    var j = code.bj[offset];
    return code.y && j !== undefined ? contextSet(code.y[j][jumped ? 1 : 0]) : [];
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // A context's test is data.ct[c]; -1 is what ran outside every test phase.
  function contextName(c) {
    return data.ct[c] < 0 ? "(outside every test: at import, collection)" : data.cx[c];
  }

  function testCount(set) {
    var seen = {}, n = 0;
    set.forEach(function (c) {
      if (data.ct[c] >= 0 && !seen[data.ct[c]]) { seen[data.ct[c]] = true; n++; }
    });
    return n;
  }

  function ranBy(set) {
    var tests = testCount(set);
    var phases = set.filter(function (c) { return data.ct[c] >= 0; }).length;
    var text = !tests ? "no test"
      : plural(tests, "test") + (tests === phases ? "" : " (" + plural(phases, "context") + ")");
    if (phases === set.length) return text;
    return text + (tests ? ", and outside every test" : " (only outside every test, e.g. at import)");
  }

  function contextList(title, set) {
    return "<h3>" + esc(title) + ": " + esc(ranBy(set)) + "</h3>" + (set.length ? "<ul>" +
      set.map(function (c) { return "<li>" + esc(contextName(c)) + "</li>"; }).join("") + "</ul>" : "");
  }

  function showContexts(html) {
    var box = document.getElementById("ctx");
    if (!box) return;
    box.innerHTML = html;
    box.scrollTop = 0;
  }

  function showLineContexts(n) {
    if (!counts().cx) return;
    var set = lineContexts(n);
    if (!set.length && !byLine[n]) showContexts("<h3>line " + n + ": no instructions</h3>");
    else showContexts(contextList("line " + n + " ran in", set));
  }

  function showInstructionContexts(c, k) {
    var d = counts();
    if (!d.cx) return;
    var code = d.codes[c], ins = code.i[k];
    var html = contextList(ins[1] + " @" + ins[0] + (ins[2] === null ? "" : " (line " + ins[2] + ")") +
                           " ran in", instructionContexts(code, k));
    if (code.br[ins[0]]) {
      html += contextList("fell through in", outcomeContexts(code, ins[0], false));
      html += contextList("jumped in", outcomeContexts(code, ins[0], true));
    }
    showContexts(html);
  }

  function outcomes(b) {
    if (!b) return "";
    return "fell through " + b[2] + ", jumped " + b[4];
  }

  function lineOf(el) {
    return el && el.closest ? el.closest("#source > p") : null;
  }

  function lineNumber(row) { return parseInt(row.id.slice(1), 10); }

  function focusable(el) {
    if (el.tagName !== "A" && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    return el;
  }

  function showTip(row) {
    var tip = document.getElementById("tip");
    var d = counts();
    var n = lineNumber(row);
    var found = byLine[n] || [];
    var set = d.cx ? lineContexts(n) : [];
    if (!found.length && !set.length) { tip.hidden = true; return; }
    var lines = ["line " + n + ":"];
    var last = -1;
    found.forEach(function (ck) {
      var code = d.codes[ck[0]], ins = code.i[ck[1]];
      if (ck[0] !== last) { lines.push(" " + code.q); last = ck[0]; }
      var b = code.br[ins[0]];
      lines.push("  " + String(ins[0]).padStart(5) + " " + ins[1].padEnd(24) + " " +
                 String(ins[3]).padStart(6) + (b ? "  " + outcomes(b) : ""));
    });
    if (d.cx) {
      // the tests' contexts (the heading tells of what ran outside every test)
      var named = set.filter(function (c) { return d.ct[c] >= 0; });
      if (set.length) {
        lines.push("ran in " + ranBy(set) + (named.length ? ":" : ""));
        named.slice(0, TIP_NAMES).forEach(function (c) { lines.push("  " + d.cx[c]); });
        if (named.length > TIP_NAMES) {
          lines.push("  and " + (named.length - TIP_NAMES) + " more: click the line to list them all");
        }
      } else if (found.some(function (ck) { return d.codes[ck[0]].i[ck[1]][3] > 0; })) {
        lines.push("ran in no test (only outside every test's setup, call and teardown, e.g. at import)");
      }
    }
    tip.textContent = lines.join("\n");
    var box = row.getBoundingClientRect();
    tip.hidden = false;
    tip.style.left = Math.max(0, box.left + 80) + "px";
    var top = box.bottom + 2;
    if (top + tip.offsetHeight > window.innerHeight) top = Math.max(0, box.top - tip.offsetHeight - 2);
    tip.style.top = top + "px";
  }

  function hideTip() { document.getElementById("tip").hidden = true; }

  var shown = -1;

  function showCode(c, line) {
    var d = counts();
    var select = document.getElementById("fn");
    select.value = String(c);
    var tbody = document.querySelector("#distab tbody");
    if (shown !== c) {
      var code = d.codes[c];
      var html = [];
      code.i.forEach(function (ins, k) {
        var b = code.br[ins[0]];
        var fell = "", jumped = "", tests = "";
        if (d.cx) {
          tests = "</td><td>" + testCount(instructionContexts(code, k));
          if (b) {
            fell = "; in " + ranBy(outcomeContexts(code, ins[0], false));
            jumped = "; in " + ranBy(outcomeContexts(code, ins[0], true));
          }
        }
        html.push('<tr tabindex="-1" data-line="' + (ins[2] === null ? "" : ins[2]) + '"' +
                  (ins[3] ? "" : ' class="miss"') + "><td>" + ins[0] + "</td><td>" + esc(ins[1]) +
                  "</td><td>" + esc(ins[4]) +
                  "</td><td>" + (ins[2] === null ? "" : ins[2]) + "</td><td>" + ins[3] +
                  (b ? '</td><td title="falls through to offset ' + b[1] + fell + '">' + b[2] +
                       '</td><td title="jumps to offset ' + b[3] + jumped + '">' + b[4]
                     : "</td><td></td><td>") + tests + "</td></tr>");
      });
      tbody.innerHTML = html.join("");
      shown = c;
    }
    var first = null;
    Array.prototype.forEach.call(tbody.rows, function (r) {
      var on = line !== undefined && r.dataset.line === String(line);
      r.classList.toggle("sel", on);
      if (on && first === null) first = r;
    });
    if (first) {
      var panel = document.getElementById("dis");
      panel.scrollTop = first.offsetTop - panel.clientHeight / 3;
    }
  }

  function codeOfLine(n) {
    counts();
    var found = byLine[n];
    if (!found) return -1;
    // the innermost code object: the one that starts last
    var best = found[0][0];
    found.forEach(function (ck) {
      if (data.codes[ck[0]].f > data.codes[best].f) best = ck[0];
    });
    return best;
  }

  function goToLine(n) {
    var row = document.getElementById("L" + n);
    if (!row) return;
    row.scrollIntoView({block: "center"});
    focusable(row).focus({preventScroll: true});
    markFocus(row);
  }

  function markFocus(row) {
    Array.prototype.forEach.call(document.querySelectorAll("#source > p.focus"), function (r) {
      r.classList.remove("focus");
    });
    row.classList.add("focus");
  }

  function setUpFile() {
    var source = document.getElementById("source");
    var targets = null;
    var current = -1;
    function navTargets() {
      if (targets === null) targets = Array.prototype.slice.call(source.querySelectorAll(".nav, .navl"));
      return targets;
    }
    document.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "Escape") { hideTip(); return; }
      var tag = ev.target && ev.target.tagName;
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      if (ev.key !== "j" && ev.key !== "k") return;
      var list = navTargets();
      if (!list.length) return;
      var at = list.indexOf(document.activeElement);
      if (at !== -1) current = at;
      current = ev.key === "j" ? Math.min(current + 1, list.length - 1) : Math.max(current - 1, 0);
      var el = list[current];
      el.scrollIntoView({block: "center"});  // first: the tip shown on focus goes beside it
      focusable(el).focus({preventScroll: true});
      ev.preventDefault();
    });
    var hovered = null;
    source.addEventListener("mouseover", function (ev) {
      var row = lineOf(ev.target);
      if (row === hovered) return;
      hovered = row;
      if (row) showTip(row); else hideTip();
    });
    source.addEventListener("mouseleave", function () { hovered = null; hideTip(); });
    source.addEventListener("focusin", function (ev) {
      var row = lineOf(ev.target);
      if (row) showTip(row);
    });
    source.addEventListener("focusout", hideTip);
    window.addEventListener("scroll", function () { if (!source.contains(document.activeElement)) hideTip(); });
    source.addEventListener("click", function (ev) {
      var row = lineOf(ev.target);
      if (!row) return;
      var n = lineNumber(row);
      var c = codeOfLine(n);
      if (c !== -1) showCode(c, n);
      showLineContexts(n);
      markFocus(row);
    });
    document.getElementById("fn").addEventListener("change", function (ev) {
      showCode(parseInt(ev.target.value, 10));
    });
    document.querySelector("#distab tbody").addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr");
      if (!tr) return;
      showInstructionContexts(shown, tr.sectionRowIndex);
      if (!tr.dataset.line) return;
      Array.prototype.forEach.call(tr.parentNode.rows, function (r) {
        r.classList.toggle("sel", r.dataset.line === tr.dataset.line);
      });
      goToLine(tr.dataset.line);
    });
    var heat = document.getElementById("heat");
    heat.addEventListener("click", function () {
      var on = document.body.classList.toggle("heat");
      heat.setAttribute("aria-pressed", on ? "true" : "false");
    });
    var start = /^#L(\d+)$/.exec(location.hash);
    window.setTimeout(function () {
      if (!document.getElementById("fn").options.length) return;
      var c = start ? codeOfLine(parseInt(start[1], 10)) : -1;
      showCode(c === -1 ? 0 : c, start ? parseInt(start[1], 10) : undefined);
      if (start) showLineContexts(parseInt(start[1], 10));
    }, 0);
  }

  if (document.body.classList.contains("index")) setUpIndex();
  else if (document.body.classList.contains("file")) setUpFile();
})();
