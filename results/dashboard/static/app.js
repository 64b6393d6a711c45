// darkwatch dashboard: reads the collector's JSON API with the token given
// in the URL fragment (#token=...) or the form, and redraws every refresh.
"use strict";

const state = { token: "", refresh: 15, level: "prefix", window: "6h", timer: 0 };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + state.token }, cache: "no-store" });
  if (r.status === 401) { showLogin("the token was refused"); throw new Error("unauthorised"); }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function when(t) {
  if (!t || t.startsWith("0001-")) return "never";
  const d = new Date(t);
  const ago = Math.round((Date.now() - d.getTime()) / 1000);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") + (ago >= 0 ? " (" + ago + " s ago)" : "");
}

function verdictCell(v) { return el("td", { class: "v-" + (v || "none") }, v || "-"); }

function fill(table, rows) {
  const tb = $(table).tBodies[0];
  tb.replaceChildren(...rows);
  if (rows.length === 0) tb.append(el("tr", {}, el("td", { class: "muted", colspan: "9" }, "none")));
}

function drawVantages(vs) {
  fill("vantages", vs.map((v) => el("tr", { class: "vantage", "data-vantage": v.name },
    el("td", {}, v.name), verdictCell(v.verdict), el("td", {}, when(v.last_seen)), el("td", {}, when(v.last_record)),
    el("td", {}, v.received), el("td", {}, v.outbox), el("td", {}, v.offset_ms.toFixed(1) + " ms"),
    el("td", {}, v.rounds), el("td", {}, v.gaps))));
}

function drawEntities(vs) {
  fill("entities", vs.map((v) => {
    const name = el("td", {}, v.entity);
    if (v.level === "prefix" || v.level === "block") {
      name.replaceChildren(el("a", { class: "entity" }, v.entity));
      name.firstChild.addEventListener("click", () => { location.hash = "#prefix-" + v.entity; });
    }
    const c = v.vantages ? v.vantages.up + "/" + v.vantages.down + "/" + v.vantages.gap : "";
    return el("tr", { class: "entity", "data-entity": v.entity, "data-verdict": v.verdict },
      name, verdictCell(v.verdict), verdictCell(v.data_plane), el("td", {}, v.control_plane || "unknown"),
      el("td", {}, c), el("td", {}, when(v.time)));
  }));
}

function drawEvents(es) {
  fill("events", es.map((e) => el("tr", { class: "event" + (e.end ? "" : " ongoing"), "data-level": e.level,
    "data-entity": e.entity, "data-kind": e.kind, "data-start": e.start, "data-end": e.end || "" },
    el("td", {}, e.level), el("td", {}, e.entity), verdictCell(e.kind), el("td", {}, when(e.start)),
    el("td", {}, e.end ? when(e.end) : "ongoing"), el("td", {}, (e.minutes || 0).toFixed(1)),
    el("td", {}, (e.severity || 0).toFixed(1)), el("td", {}, e.last_hop || ""))));
}

const verdictClass = { reachable: "ok", healthy: "ok", partial: "partial", "reachable-unrouted": "unrouted",
  uncertain: "unknown", withdrawn: "down", outage: "down", "data-plane-outage": "down", "control-plane-outage": "down" };

// timeline draws one prefix: merged verdicts, one row per vantage, and the
// control-plane row.
function timeline(p, since, now) {
  const W = 1000, row = 16, left = 90;
  const vantages = Object.keys(p.vantages || {}).sort();
  const rows = 2 + vantages.length;
  const s = svgEl("svg", { class: "timeline", "data-level": "prefix", "data-entity": p.entity,
    width: W, height: rows * (row + 4) + 6, viewBox: `0 0 ${W} ${rows * (row + 4) + 6}` });
  const t0 = new Date(since).getTime(), span = Math.max(1, now - t0);
  const x = (t) => left + (W - left - 4) * Math.min(1, Math.max(0, (new Date(t).getTime() - t0) / span));
  const label = (y, text) => { const e = svgEl("text", { x: 4, y: y + row - 4 }); e.textContent = text; s.append(e); };
  let y = 3;
  label(y, "verdict");
  const vs = p.verdicts.filter((v) => v.level === "prefix" || v.level === "block");
  vs.forEach((v, i) => {
    const x0 = x(v.time), x1 = i + 1 < vs.length ? x(vs[i + 1].time) : Math.min(W - 4, x0 + 6);
    const r = svgEl("rect", { class: verdictClass[v.verdict] || "unknown", x: x0, y, width: Math.max(1, x1 - x0), height: row });
    const tt = svgEl("title", {}); tt.textContent = v.time + " " + v.verdict; r.append(tt); s.append(r);
  });
  for (const name of vantages) {
    y += row + 4;
    label(y, name);
    const cs = p.vantages[name];
    cs.forEach((c, i) => {
      const x0 = x(c.time), x1 = i + 1 < cs.length ? x(cs[i + 1].time) : Math.min(W - 4, x0 + 6);
      const share = c.probes ? c.answered / c.probes : 0;
      const cls = share >= 0.8 ? "ok" : share > 0.2 ? "partial" : "down";
      const r = svgEl("rect", { class: cls, x: x0, y, width: Math.max(1, x1 - x0), height: row });
      const tt = svgEl("title", {}); tt.textContent = `${name} round ${c.round}: ${c.answered}/${c.probes} answered`;
      r.append(tt); s.append(r);
    });
  }
  y += row + 4;
  label(y, "BGP");
  // The control plane's row: announced, withdrawn or unknown, round by round.
  const cps = p.control_plane || [];
  const cpClass = { announced: "ok", withdrawn: "down" };
  cps.forEach((c, i) => {
    const x0 = x(c.time), x1 = i + 1 < cps.length ? x(cps[i + 1].time) : Math.min(W - 4, x0 + 6);
    const r = svgEl("rect", { class: cpClass[c.state] || "none", x: x0, y, width: Math.max(1, x1 - x0), height: row,
      "data-plane": "control" });
    const tt = svgEl("title", {}); tt.textContent = c.time + " BGP " + (c.state || "unknown"); r.append(tt); s.append(r);
  });
  return s;
}

async function drawTimelines(prefixes, since) {
  const box = $("timelines");
  const now = Date.now();
  const parts = [];
  for (const pfx of prefixes.slice(0, 20)) {
    const p = await api("/api/prefix?entity=" + encodeURIComponent(pfx) + "&since=" + state.window);
    parts.push(el("h3", { id: "prefix-" + pfx }, pfx), timeline(p, since, now));
  }
  box.replaceChildren(...parts);
}

async function drawTarget(addr) {
  const box = $("target");
  if (!addr) { box.replaceChildren(); return; }
  const t = await api("/api/target?addr=" + encodeURIComponent(addr) + "&since=" + state.window + "&limit=200");
  const table = el("table", { id: "records" }, el("thead", {}, el("tr", {}, ...["time", "vantage", "round", "method",
    "port", "outcome", "rtt ms", "detail"].map((h) => el("th", {}, h)))));
  const tb = el("tbody", {});
  for (const r of t.records) {
    const detail = r.hops ? r.hops.map((h) => h.addr || "*").join(" ") : r.rcode || r.icmp || r.error || "";
    tb.append(el("tr", { class: "record" }, el("td", {}, when(r.time)), el("td", {}, r.vantage), el("td", {}, r.round),
      el("td", {}, r.method), el("td", {}, r.port || ""), verdictCell(r.outcome), el("td", {}, (r.rtt_ms || 0).toFixed(3)),
      el("td", {}, detail)));
  }
  table.append(tb);
  box.replaceChildren(el("p", {}, t.records.length + " records of " + t.addr), table);
}

async function refresh() {
  clearTimeout(state.timer);
  try {
    const [vantages, entities, events, targets] = await Promise.all([api("/api/vantages"),
      api("/api/verdicts?level=" + state.level), api("/api/events?since=" + state.window), api("/api/targets")]);
    drawVantages(vantages);
    drawEntities(entities);
    drawEvents(events);
    const since = new Date(Date.now() - parseDuration(state.window)).toISOString();
    const prefixes = [...new Set(targets.flatMap((t) => t.prefixes))];
    await drawTimelines(prefixes, since);
    await drawTarget($("addr").value.trim());
    $("status").textContent = "updated " + new Date().toISOString().replace(/\.\d+Z$/, "Z");
  } catch (e) {
    if (e.message !== "unauthorised") $("status").textContent = "error: " + e.message;
  }
  state.timer = setTimeout(refresh, state.refresh * 1000);
}

function parseDuration(s) { return parseInt(s, 10) * 3600 * 1000; }

function showLogin(why) {
  $("main").hidden = true;
  $("login").hidden = false;
  $("status").textContent = why || "";
}

async function start() {
  $("main").hidden = false;
  $("login").hidden = true;
  try {
    const c = await api("/api/config");
    state.refresh = c.refresh_s || 15;
  } catch (e) { return; }
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("darkwatch-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = sessionStorage.getItem("darkwatch-token") || "";
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("darkwatch-token", state.token);
    start();
  });
  $("level").addEventListener("change", (e) => { state.level = e.target.value; refresh(); });
  $("window").addEventListener("change", (e) => { state.window = e.target.value; refresh(); });
  $("drill").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  if (state.token) start(); else showLogin("");
});
