// report.js draws the HTML report's target table from the JSON in
// #target-data (its layout is described in htmltargets.go), one page at a
// time. The view (filter, state, sort, page) lives in the URL fragment,
// e.g. #q=198.19.16.0/20&state=down&sort=-rtt&page=2, so it can be linked.
(function () {
  "use strict";
  var PAGE = 50;
  var data = JSON.parse(document.getElementById("target-data").textContent);
  var T = data.targets, V = data.vantages, M = data.methods, O = data.outages;
  var n = T.length;
  var probes = new Float64Array(n), answered = new Float64Array(n), avail = new Float64Array(n);
  var rtt = new Float64Array(n), v4 = new Float64Array(n);
  var i, k;
  for (i = 0; i < n; i++) {
    var all = T[i][3], p = 0;
    for (k = 4; k < 10; k++) p += all[k] || 0;
    probes[i] = p;
    answered[i] = all[0] || 0;
    avail[i] = p > 0 ? answered[i] / p : 0;
    rtt[i] = all[2] || Infinity;
    v4[i] = ipv4(T[i][0]);
  }
  var el = function (id) { return document.getElementById(id); };
  var input = el("target-filter"), state = el("target-state");
  var view = { q: "", state: "", sort: "avail", page: 1 };
  var shown = [];

  // ipv4 is a dotted quad as a number, or -1.
  function ipv4(s) {
    var p = s.split(".");
    if (p.length !== 4) return -1;
    var v = 0;
    for (var j = 0; j < 4; j++) {
      var b = +p[j];
      if (p[j] === "" || !(b >= 0 && b <= 255) || b % 1) return -1;
      v = v * 256 + b;
    }
    return v;
  }

  function stateOf(t) {
    if (answered[t] === 0) return "down";
    return answered[t] < probes[t] ? "partial" : "ok";
  }

  function method(t) {
    var m = M[T[t][1]];
    return T[t][2] ? m + ":" + T[t][2] : m;
  }

  // matcher returns the test of the text filter q: an IPv4 prefix
  // (a.b.c.d/len) matches the addresses in it, anything else is a
  // case-insensitive substring of the address, method, a vantage or an
  // outage.
  function matcher(q) {
    q = q.trim().toLowerCase();
    if (!q) return null;
    var cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(q);
    if (cidr && ipv4(cidr[1]) >= 0 && +cidr[2] <= 32) {
      var size = Math.pow(2, 32 - cidr[2]);
      var lo = Math.floor(ipv4(cidr[1]) / size) * size;
      return function (t) { return v4[t] >= lo && v4[t] < lo + size; };
    }
    var vm = V.map(function (s) { return s.toLowerCase().indexOf(q) >= 0; });
    var om = O.map(function (s) { return s.toLowerCase().indexOf(q) >= 0; });
    return function (t) {
      var r = T[t];
      if (r[0].toLowerCase().indexOf(q) >= 0 || method(t).indexOf(q) >= 0) return true;
      for (var j = 0; j < r[4].length; j++) if (vm[r[4][j][0]]) return true;
      var o = r[5] || [];
      for (j = 0; j < o.length; j++) if (om[o[j]]) return true;
      return false;
    };
  }

  var keys = {
    target: function (a, b) { return a - b; },
    method: function (a, b) { return method(a) < method(b) ? -1 : method(a) > method(b) ? 1 : a - b; },
    probes: function (a, b) { return probes[a] - probes[b] || a - b; },
    answered: function (a, b) { return answered[a] - answered[b] || a - b; },
    avail: function (a, b) { return avail[a] - avail[b] || a - b; },
    rtt: function (a, b) { return rtt[a] === rtt[b] ? a - b : rtt[a] < rtt[b] ? -1 : 1; }
  };

  function select() {
    var test = matcher(view.q), st = view.state;
    shown = [];
    for (var t = 0; t < n; t++) {
      if (st === "outage" ? !(T[t][5] && T[t][5].length) : st && stateOf(t) !== st) continue;
      if (test && !test(t)) continue;
      shown.push(t);
    }
    var desc = view.sort.charAt(0) === "-";
    var cmp = keys[view.sort.replace(/^-/, "")] || keys.avail;
    shown.sort(desc ? function (a, b) { return cmp(b, a); } : cmp);
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function pct(a, p) {
    return p > 0 ? (Math.round(10000 * a / p) / 100).toFixed(1) + "%" : "\u2013";
  }

  function ms(v) { return v ? v.toFixed(3) : "\u2013"; }

  // statsCells adds a row's counts from s: answered at ans, the outcomes from out.
  function statsCells(tr, s, ans, out, rttText) {
    var p = 0, j;
    for (j = out; j < out + 6; j++) p += s[j] || 0;
    cell(tr, String(p), "num");
    cell(tr, String(s[ans] || 0), "num");
    var td = cell(tr, pct(s[ans] || 0, p), "num");
    if (p > 0) {
      var m = document.createElement("meter");
      m.min = 0; m.max = 100; m.low = 50; m.high = 99.9; m.optimum = 100;
      m.value = 100 * (s[ans] || 0) / p;
      td.insertBefore(m, td.firstChild);
    }
    cell(tr, rttText, "num");
    for (j = out; j < out + 6; j++) cell(tr, String(s[j] || 0), s[j] ? "num" : "num zero");
  }

  function drawTarget(t) {
    var r = T[t], body = document.createElement("tbody"), all = r[3];
    body.className = "target";
    var tr = document.createElement("tr");
    tr.className = "all";
    var addr = cell(tr, r[0], "addr"), dot = document.createElement("span");
    dot.className = "dot " + stateOf(t);
    addr.insertBefore(dot, addr.firstChild);
    cell(tr, M[r[1]]);
    cell(tr, r[2] ? String(r[2]) : "-", "num");
    cell(tr, "all", "vantage");
    statsCells(tr, all, 0, 4, all[2] ? ms(all[1]) + " / " + ms(all[2]) + " / " + ms(all[3]) : "\u2013");
    body.appendChild(tr);
    r[4].forEach(function (s) {
      var sub = document.createElement("tr");
      sub.className = "sub";
      cell(sub, ""); cell(sub, ""); cell(sub, "");
      cell(sub, V[s[0]], "vantage");
      statsCells(sub, s, 1, 3, s[2] ? "avg " + ms(s[2]) : "\u2013");
      body.appendChild(sub);
    });
    if (r[5] && r[5].length) {
      var ot = document.createElement("tr");
      ot.className = "outages";
      cell(ot, "");
      var list = cell(ot, "", "list"), tag = document.createElement("span"), items = document.createElement("span");
      list.colSpan = 13;
      tag.className = "tag down";
      tag.textContent = "outages";
      items.className = "items";
      r[5].forEach(function (o) {
        var s = document.createElement("span");
        s.textContent = O[o];
        items.appendChild(s);
      });
      list.appendChild(tag);
      list.appendChild(document.createTextNode(" "));
      list.appendChild(items);
      ot.appendChild(list);
      body.appendChild(ot);
    }
    return body;
  }

  function draw() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    view.page = Math.min(Math.max(1, view.page), pages);
    var from = (view.page - 1) * PAGE, to = Math.min(shown.length, from + PAGE);
    var table = el("target-table");
    var old = table.querySelectorAll("tbody");
    for (k = 0; k < old.length; k++) table.removeChild(old[k]);
    var frag = document.createDocumentFragment();
    for (var j = from; j < to; j++) frag.appendChild(drawTarget(shown[j]));
    if (!shown.length) {
      var body = document.createElement("tbody"), tr = document.createElement("tr");
      cell(tr, "No target matches.", "empty").colSpan = 14;
      body.appendChild(tr);
      frag.appendChild(body);
    }
    table.appendChild(frag);
    el("target-count").textContent = (shown.length ? (from + 1) + "\u2013" + to + " of " : "0 of ") +
      shown.length.toLocaleString("en") + " matching" + " (" + n.toLocaleString("en") + " targets)";
    el("target-page").textContent = "page " + view.page + " of " + pages;
    el("target-prev").disabled = view.page <= 1;
    el("target-next").disabled = view.page >= pages;
    var ths = table.querySelectorAll("th[data-sort]");
    for (k = 0; k < ths.length; k++) {
      var key = ths[k].getAttribute("data-sort");
      if (view.sort === key) ths[k].setAttribute("aria-sort", "ascending");
      else if (view.sort === "-" + key) ths[k].setAttribute("aria-sort", "descending");
      else ths[k].removeAttribute("aria-sort");
    }
  }

  // fragment keeps the view in the URL, without a history entry per keystroke.
  function fragment() {
    var p = new URLSearchParams();
    if (view.q) p.set("q", view.q);
    if (view.state) p.set("state", view.state);
    if (view.sort !== "avail") p.set("sort", view.sort);
    if (view.page > 1) p.set("page", view.page);
    var h = p.toString();
    if (("#" + h) !== location.hash && (h || location.hash.indexOf("=") >= 0)) {
      history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
    }
  }

  function update(resort) {
    if (resort) select();
    draw();
    fragment();
  }

  // fromFragment reads a view from the URL fragment; a plain anchor
  // (#targets) is not a view.
  function fromFragment() {
    if (location.hash.indexOf("=") < 0) return false;
    var p = new URLSearchParams(location.hash.slice(1));
    view.q = p.get("q") || "";
    view.state = p.get("state") || "";
    view.sort = p.get("sort") || "avail";
    view.page = parseInt(p.get("page"), 10) || 1;
    input.value = view.q;
    state.value = view.state;
    return true;
  }

  var linked = fromFragment();
  select();
  draw();
  el("target-controls").hidden = false;
  el("target-table").setAttribute("data-render-ms", performance.now().toFixed(1));
  if (linked) el("targets").scrollIntoView();

  var timer = 0;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { view.q = input.value; view.page = 1; update(true); }, 150);
  });
  state.addEventListener("change", function () { view.state = state.value; view.page = 1; update(true); });
  el("target-prev").addEventListener("click", function () { view.page--; update(false); });
  el("target-next").addEventListener("click", function () { view.page++; update(false); });
  el("target-table").querySelector("thead").addEventListener("click", function (e) {
    var key = e.target.getAttribute && e.target.getAttribute("data-sort");
    if (!key) return;
    view.sort = view.sort === key ? "-" + key : key;
    view.page = 1;
    update(true);
  });
  window.addEventListener("hashchange", function () { if (fromFragment()) { select(); draw(); } });
})();
