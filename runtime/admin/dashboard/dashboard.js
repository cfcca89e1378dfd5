// The tsserve dashboard: reads the admin token from the URL fragment (#token=...), keeps it for
// the tab (sessionStorage; the fragment never reaches the server), and polls /api/dashboard.
"use strict";
(function () {
  // The spec asks for a refresh at least every 2 s; a poll also takes its own time.
  const REFRESH_MS = 1500;
  const $ = (id) => document.getElementById(id);
  const fromFragment = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromFragment) {
    sessionStorage.setItem("tsserve-token", decodeURIComponent(fromFragment[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  let token = sessionStorage.getItem("tsserve-token");
  let timer;
  const charts = new Map();

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : c === null || c === undefined ? "" : String(c));
    return e;
  }

  function fill(tableId, rows) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren(...rows);
  }

  function showLogin(message) {
    clearTimeout(timer);
    $("main").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem("tsserve-token", token);
    refresh();
  });
  for (const id of ["f-app", "f-deployment", "f-request"]) $(id).addEventListener("input", () => last && renderLogs(last.logs.records));

  let last;

  async function refresh() {
    clearTimeout(timer);
    if (!token) return showLogin();
    let res;
    try {
      res = await fetch("/api/dashboard", { headers: { authorization: "Bearer " + token } });
    } catch (err) {
      $("updated").textContent = "cannot reach the instance: " + err.message;
      timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    if (res.status === 401) {
      sessionStorage.removeItem("tsserve-token");
      token = null;
      return showLogin("That token was refused.");
    }
    if (!res.ok) {
      $("updated").textContent = "the instance answered " + res.status;
      timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    last = await res.json();
    $("login").hidden = true;
    $("main").hidden = false;
    render(last);
    $("updated").textContent = "updated " + new Date(last.time).toLocaleTimeString();
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function statusCell(s) {
    return el("td", { class: "status-" + s }, s);
  }

  function render(data) {
    const apps = data.status.applications;
    const appRows = [];
    const depRows = [];
    const repRows = [];
    for (const [name, app] of Object.entries(apps)) {
      const tr = el("tr", { "data-app": name }, el("td", {}, name));
      tr.append(statusCell(app.status), el("td", {}, app.routePrefix === null ? "(none)" : app.routePrefix), el("td", { class: "msg" }, app.message));
      appRows.push(tr);
      for (const [dname, d] of Object.entries(app.deployments)) {
        const states = Object.entries(d.replicaStates).map(([s, n]) => s + " " + n).join(", ");
        const decision = d.autoscaling && d.autoscaling.lastDecision;
        const dtr = el("tr", { "data-deployment": name + "/" + dname }, el("td", {}, name), el("td", {}, dname));
        dtr.append(
          statusCell(d.status),
          el("td", {}, (d.currentReplicas ?? "") + " running" + (states ? " (" + states + ")" : "")),
          el("td", {}, d.targetReplicas ?? ""),
          el("td", { class: "msg" }, decision ? decision.from + " → " + decision.to + ": " + decision.reason : d.autoscaling ? "none yet" : "not autoscaled"),
        );
        depRows.push(dtr);
        for (const r of d.replicas || []) {
          const rtr = el("tr", { "data-replica": r.replicaId }, el("td", {}, r.replicaId));
          rtr.append(statusCell(r.state), el("td", {}, r.ongoingRequests ?? ""), el("td", {}, (r.multiplexedModelIds || []).join(", ")));
          repRows.push(rtr);
        }
      }
    }
    fill("apps", appRows);
    fill("deployments", depRows);
    fill("replicas", repRows);
    renderCharts(data.charts);
    renderLogs(data.logs.records);
  }

  function renderCharts(series) {
    const box = $("charts");
    for (const [app, s] of Object.entries(series)) {
      const rate = [s.time, s.requestsPerS, s.errorsPerS];
      const latency = [s.time, s.p50Ms, s.p99Ms];
      let c = charts.get(app);
      if (!c) {
        const wrap = el("div", { class: "chart", "data-chart-app": app }, el("h3", {}, app));
        box.append(wrap);
        const opts = (title, a, b, unit) => ({
          title,
          width: 420,
          height: 180,
          scales: { x: { time: true } },
          series: [{}, { label: a, stroke: "#2e6fd8", width: 2 }, { label: b, stroke: "#d8452e", width: 2 }],
          axes: [{}, { values: (u, vals) => vals.map((v) => v + unit) }],
        });
        c = {
          rate: new uPlot(opts("requests / s", "requests", "errors", ""), rate, wrap),
          latency: new uPlot(opts("latency", "p50", "p99", " ms"), latency, wrap),
        };
        charts.set(app, c);
      } else {
        c.rate.setData(rate);
        c.latency.setData(latency);
      }
    }
  }

  function renderLogs(records) {
    const fa = $("f-app").value.trim();
    const fd = $("f-deployment").value.trim();
    const fr = $("f-request").value.trim();
    const rows = [];
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i];
      if (fa && r.application !== fa) continue;
      if (fd && r.deployment !== fd) continue;
      if (fr && r.requestId !== fr) continue;
      const where = [r.application && (r.deployment ? r.application + "/" + r.deployment : r.application), r.replica].filter(Boolean).join(" ");
      const tr = el("tr", { class: "level-" + r.level }, el("td", {}, new Date(r.time).toLocaleTimeString()), el("td", {}, r.level), el("td", {}, where), el("td", {}, r.requestId || ""));
      tr.append(el("td", { class: "msg" }, r.msg));
      rows.push(tr);
    }
    fill("logs", rows);
  }

  refresh();
})();
