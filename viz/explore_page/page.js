// The explorer's script. Every number it shows was computed in Python (viz/explore.py) and sits in
// #page-data; this script only shows, highlights and replays them. It computes no gradient.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("page-data").textContent);
  var TOTAL = D.et.length;                  // accumulation steps of backward()
  var grids = document.getElementById("grids");
  var wires = document.getElementById("wires");
  var ledgerEl = document.getElementById("ledger");
  var nudgeEl = document.getElementById("nudge");
  var infoEl = document.getElementById("info");
  var statusEl = document.getElementById("status");
  var verdictEl = document.getElementById("verdict");
  var answerEl = document.getElementById("answer");
  var quizButton = document.getElementById("quiz");
  var SVG = "http://www.w3.org/2000/svg";

  // a big grid's cells show 3 significant digits at most, in 7 characters or fewer (the info panel and the
  // ledger show all six)
  function short(text) {
    var x = Number(text), a = Math.abs(x);
    if (text === "" || !isFinite(x) || x === 0) return text;
    if (a < 0.001 || a >= 1e5) return x.toExponential(1).replace("e-", "e−").replace("e+", "e");
    var t = x.toPrecision(a < 0.01 ? 2 : 3);
    return t.indexOf(".") >= 0 ? t.replace(/0+$/, "").replace(/\.$/, "") : t;
  }

  var cells = new Array(D.drawn), gradSpans = new Array(D.drawn), compact = new Array(D.drawn);
  Array.prototype.forEach.call(grids.querySelectorAll(".cell"), function (el) {
    var i = +el.getAttribute("data-id");
    cells[i] = el;
    gradSpans[i] = el.querySelector(".g");
    compact[i] = el.closest(".compact") !== null;
    if (compact[i]) {
      var d = el.querySelector(".d");
      d.textContent = short(d.textContent);
      gradSpans[i].textContent = short(gradSpans[i].textContent);
    }
  });

  // the replay: `pos` steps of backward() done; shown[i] is cell i's gradient text after them
  var pos = D.ran ? TOTAL : 0;
  var shown = D.ran ? D.grad.slice(0, D.drawn) : new Array(D.drawn).fill("");
  var selected = -1, litNow = [], windowNow = [], nowNow = [], quiz = false, revealed = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showGrad(i) {
    if (gradSpans[i]) gradSpans[i].textContent = quiz ? "" : (compact[i] ? short(shown[i]) : shown[i]);
  }

  function showAllGrads() {
    for (var i = 0; i < D.drawn; i++) showGrad(i);
  }

  // ---- selection: the Value, what is wired to it through a conv, and its lines ----

  function select(i) {
    if (selected >= 0 && cells[selected]) cells[selected].classList.remove("selected");
    litNow.forEach(function (j) { cells[j].classList.remove("lit"); });
    windowNow.forEach(function (j) { cells[j].classList.remove("window"); });
    selected = i;
    litNow = D.lit[i].filter(function (j) { return j < D.drawn && cells[j]; });
    windowNow = D.window[i].filter(function (j) { return j < D.drawn && cells[j]; });
    cells[i].classList.add("selected");
    litNow.forEach(function (j) { cells[j].classList.add("lit"); });
    windowNow.forEach(function (j) { cells[j].classList.add("window"); });  // a pool's window: no conv wiring
    document.getElementById("quiz-name").textContent = D.labels[i];
    verdictEl.className = "";
    verdictEl.textContent = "";
    drawWires();
    renderInfo();
    renderLedger();
    renderNudge();
  }

  function centre(j, box) {
    var r = cells[j].getBoundingClientRect();  // (the wires scroll with the grids)
    return [r.left + r.width / 2 - box.left + grids.scrollLeft, r.top + r.height / 2 - box.top + grids.scrollTop];
  }

  function drawWires() {
    while (wires.firstChild) wires.removeChild(wires.firstChild);
    if (selected < 0) return;
    var pairs = D.lines[selected], box = grids.getBoundingClientRect();
    wires.setAttribute("width", grids.scrollWidth);
    wires.setAttribute("height", grids.scrollHeight);
    for (var k = 0; k + 1 < pairs.length; k += 2) {
      var a = pairs[k], b = pairs[k + 1];
      if (a >= D.drawn || b >= D.drawn || !cells[a] || !cells[b]) continue;
      // a curve bowing to one side of the straight line, so that wires between cells of one row (or one
      // column) pass beside the cells between them, and parallel wires stay apart
      var p = centre(a, box), q = centre(b, box), line = document.createElementNS(SVG, "path");
      var dx = q[0] - p[0], dy = q[1] - p[1], length = Math.sqrt(dx * dx + dy * dy) || 1;
      var lift = 14 + 0.12 * length, cx = (p[0] + q[0]) / 2 + lift * dy / length, cy = (p[1] + q[1]) / 2 - lift * Math.abs(dx) / length;
      line.setAttribute("d", "M" + p[0] + "," + p[1] + " Q" + cx + "," + cy + " " + q[0] + "," + q[1]);
      line.setAttribute("stroke-opacity", Math.max(0.2, 0.6 - 0.004 * pairs.length / 2));
      if (isWeightLine(a)) line.setAttribute("class", "weight");
      wires.appendChild(line);
    }
  }

  function isWeightLine(a) {  // a weight -> output line (an output's own weights), drawn dashed
    return cells[a].closest("section").getAttribute("data-role") === "filter";
  }

  function renderInfo() {
    infoEl.textContent = "";
    if (selected < 0) { infoEl.textContent = "Click a number to select it."; return; }
    var section = cells[selected].closest("section");
    infoEl.appendChild(document.createTextNode(D.labels[selected] + " = " + D.data[selected] +
      (quiz || shown[selected] === "" ? "" : ", grad " + shown[selected]) + "   "));
    infoEl.appendChild(el("span", "role", "(" + section.getAttribute("data-role") + ")"));
    var n = litNow.length, wires_ = D.wires[selected];
    if (windowNow.length) infoEl.appendChild(el("div", "role", windowNow.length + " in the same pool window, outlined in green"));
    if (n) {
      var note = el("div", "role", n + " wired to it through a conv, lit in yellow");
      if (wires_ > D.lines[selected].length / 2) note.textContent += "; lines drawn for " + (D.lines[selected].length / 2) + " of " + wires_;
      infoEl.appendChild(note);
    }
  }

  // ---- the ledger: dL/dv as one term per use, as far as the replay has got ----

  function renderLedger() {
    ledgerEl.textContent = "";
    if (selected < 0) { ledgerEl.textContent = "Select a Value to see its gradient as a sum of one term per use."; return; }
    var name = D.labels[selected];
    if (quiz && !revealed[selected]) {
      ledgerEl.appendChild(el("div", "note", "Quiz: what is dL/d" + name + "? Type your guess below and press Check; the terms show after."));
      return;
    }
    if (selected === D.root) {
      ledgerEl.appendChild(el("div", "note", "backward() starts here: dL/d" + name + " = 1."));
      ledgerEl.appendChild(totalLine(name, "1"));
      return;
    }
    var terms = D.ledger[selected], arrived = 0, list = el("table");
    ledgerEl.appendChild(el("div", "note", "dL/d" + name + " = the sum over each use u of " + name + ": du/d" + name + " × dL/du"));
    var head = el("tr");
    head.appendChild(el("th", "", "use: du/d" + name + " × dL/du"));
    head.appendChild(el("th", "run", "total"));
    list.appendChild(head);
    for (var k = 0; k < terms.length; k++) {
      var t = terms[k];
      if (t[0] >= pos) break;
      arrived++;
      var row = el("tr", "term"), cell = el("td");
      row.setAttribute("data-step", t[0] + 1);
      cell.appendChild(el("span", "sym", t[1]));
      cell.appendChild(document.createTextNode(" = "));
      cell.appendChild(el("span", "num", t[2]));
      cell.appendChild(document.createTextNode(" = "));
      cell.appendChild(el("span", "val", t[3]));
      row.appendChild(cell);
      row.appendChild(el("td", "run", D.es[t[0]]));
      if (t[0] === pos - 1) row.className = "term last";
      list.appendChild(row);
    }
    if (arrived) ledgerEl.appendChild(list);
    D.notes[selected].forEach(function (text) { ledgerEl.appendChild(el("div", "note", text)); });
    if (!terms.length && !D.notes[selected].length) ledgerEl.appendChild(el("div", "note", "L does not depend on " + name + ": no term."));
    if (arrived < terms.length) ledgerEl.appendChild(el("div", "note", (terms.length - arrived) + " more term(s) still to come (step on)"));
    var total = arrived ? D.es[terms[arrived - 1][0]] : "0";
    ledgerEl.appendChild(totalLine(name, total));
  }

  function totalLine(name, total) {
    var line = el("div", "total");
    line.appendChild(document.createTextNode((pos === TOTAL ? "after all " + TOTAL + " steps, as backward() left it: " :
      "after step " + pos + " of " + TOTAL + ": ") + "dL/d" + name + " = "));
    line.appendChild(el("b", "", total));
    return line;
  }

  function renderNudge() {
    nudgeEl.textContent = "";
    if (selected < 0) { nudgeEl.textContent = "Select a Value: the page made a finite-difference check of its gradient."; return; }
    var name = D.labels[selected];
    if (quiz && !revealed[selected]) { nudgeEl.textContent = "Hidden in quiz mode."; return; }
    if (D.nudge[selected] === null) { nudgeEl.textContent = "The nudge could not be rerun here (an op fails off " + name + "'s number)."; return; }
    nudgeEl.appendChild(document.createTextNode("Nudge " + name + " by ±h, rerun what depends on it: (L(" + name + "+h) − L(" + name + "−h)) / 2h = "));
    nudgeEl.appendChild(el("b", "fd", D.nudge[selected]));
    nudgeEl.appendChild(document.createTextNode("; backward(): "));
    nudgeEl.appendChild(el("b", "bw", D.grad[selected]));
  }

  // ---- the replay ----

  function markNow(ids) {
    nowNow.forEach(function (j) { cells[j].classList.remove("now"); });
    nowNow = ids.filter(function (j) { return j < D.drawn && cells[j]; });
    nowNow.forEach(function (j) { cells[j].classList.add("now"); });
  }

  function apply(k) {  // show what step k of backward() did
    var t = D.et[k];
    if (t < D.drawn) { shown[t] = D.es[k]; showGrad(t); }
  }

  function status() {
    if (pos === 0) { statusEl.textContent = "step 0 of " + TOTAL + ": every gradient is 0, and dL/dL = 1"; return; }
    var k = pos - 1, t = D.labels[D.et[k]], u = D.labels[D.eu[k]];
    statusEl.textContent = "step " + pos + " of " + TOTAL + ": " + t + ".grad += d" + u + "/d" + t + " × dL/d" + u +
      (quiz ? "" : " = " + D.el[k] + " × " + D.grad[D.eu[k]] + " → " + D.es[k]);
  }

  function step() {
    if (pos >= TOTAL) return;
    apply(pos);
    pos++;
    markNow([D.et[pos - 1], D.eu[pos - 1]]);
    status();
    renderLedger();
  }

  function nextTerm() {
    if (selected < 0) { step(); return; }
    while (pos < TOTAL) {
      apply(pos);
      pos++;
      if (D.et[pos - 1] === selected) break;
    }
    markNow([D.et[pos - 1], D.eu[pos - 1]]);
    status();
    renderLedger();
  }

  function finish() {
    while (pos < TOTAL) { apply(pos); pos++; }
    markNow([]);
    status();
    renderLedger();
  }

  function reset() {
    pos = 0;
    for (var i = 0; i < D.drawn; i++) shown[i] = i === D.root ? "1" : "0";
    showAllGrads();
    markNow([]);
    status();
    renderLedger();
  }

  // ---- quiz: predict, then check ----

  function parseGuess(text) {  // a number, or a fraction a/b; and how many digits the learner gave
    var s = text.trim().replace(/\u2212/g, "-").replace(/\s+/g, "");
    var num = "[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[-+]?\\d+)?";
    var frac = new RegExp("^(" + num + ")/(" + num + ")$", "i").exec(s);
    if (frac) {
      var b = Number(frac[2]);
      return b === 0 ? null : { value: Number(frac[1]) / b, exact: true };
    }
    if (!new RegExp("^" + num + "$", "i").test(s)) return null;
    var mantissa = s.split(/e/i)[0].replace(/^[-+]/, ""), exponent = +(s.split(/e/i)[1] || 0);
    var decimals = (mantissa.split(".")[1] || "").length - exponent;
    var significant = mantissa.replace(".", "").replace(/^0+/, "").length;
    return { value: Number(s), exact: false, decimals: decimals, significant: significant };
  }

  function agrees(guess, answer) {
    // exact (to rounding), or at least 3 significant digits and right to the last digit typed: 6.75 or 27/4
    // for 6.75, 0.333 for 1/3; not 7 or 6.8
    var diff = Math.abs(guess.value - answer);
    if (diff <= 1e-9 * Math.max(1, Math.abs(answer))) return true;
    return !guess.exact && guess.significant >= 3 && diff <= 0.5 * Math.pow(10, -guess.decimals) * (1 + 1e-9);
  }

  function check() {
    verdictEl.className = "";
    if (selected < 0) { verdictEl.textContent = "Select a Value first, then type its gradient."; return; }
    var answer = D.answer[selected], guess = parseGuess(answerEl.value), name = D.labels[selected];
    if (answer === null) { verdictEl.textContent = "dL/d" + name + " is not a finite number here."; return; }
    if (guess === null) { verdictEl.textContent = "Type a number (6.75) or a fraction (27/4)."; return; }
    var right = agrees(guess, answer);
    verdictEl.className = right ? "correct" : "wrong";
    verdictEl.textContent = right ? "Right: dL/d" + name + " = " + D.grad[selected] + "." :
      "Not quite: the ledger shows how dL/d" + name + " is made.";
    revealed[selected] = true;
    renderLedger();
    renderNudge();
  }

  function toggleQuiz() {
    quiz = !quiz;
    revealed = {};
    document.body.classList.toggle("quiz", quiz);
    quizButton.setAttribute("aria-pressed", quiz ? "true" : "false");
    verdictEl.className = "";
    verdictEl.textContent = quiz ? "Quiz: every gradient is hidden. Select a Value and type your guess." : "";
    showAllGrads();
    status();
    renderLedger();
    renderNudge();
  }

  // ---- wiring up ----

  grids.addEventListener("click", function (event) {
    var cell = event.target.closest(".cell");
    if (cell) select(+cell.getAttribute("data-id"));
  });
  grids.addEventListener("keydown", function (event) {  // a cell has the focus: Enter or Space selects it
    var cell = event.target.closest(".cell");
    if (cell && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); select(+cell.getAttribute("data-id")); }
  });
  document.getElementById("step").addEventListener("click", step);
  document.getElementById("next-term").addEventListener("click", nextTerm);
  document.getElementById("finish").addEventListener("click", finish);
  document.getElementById("reset").addEventListener("click", reset);
  quizButton.addEventListener("click", toggleQuiz);
  document.getElementById("check").addEventListener("click", check);
  answerEl.addEventListener("keydown", function (event) { if (event.key === "Enter") check(); });
  window.addEventListener("resize", drawWires);

  if (D.mismatch.length) {
    var warning = document.getElementById("warning");
    warning.hidden = false;
    warning.textContent = "These Values' grad differs from one backward() pass (did backward() run more than once " +
      "without zeroing the gradients?): " + D.mismatch.join(", ");
  }
  if (!D.ran) statusEl.textContent = "backward() had not run when this page was made: press Step to replay it.";
  else status();
})();
