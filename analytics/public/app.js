// Konorkestra dashboard: reads the analytics API and renders it. Plain browser JavaScript, no
// build step; uPlot (global `uPlot`) is copied into vendor/ by `npm run build`.
"use strict";
(function () {
  const REFRESH_MS = refreshMs();
  const CONFIG_ROWS = 20; // latest config changes and rejections shown
  // The node table asks for one page at a time (what a person reads), never the whole fleet: at
  // 10,000 nodes that is a 4 MB answer every refresh. `?page_size=N` in the dashboard's URL
  // changes the page.
  const PAGE_SIZE = pageSize();
  let chart;
  // Cursors of the pages before the one shown (`null`: the first page), and the next one's.
  const pages = { before: [], current: null, next: null };

  // `?refresh_ms=N` (500 to 60000) changes how often the page reloads its data; 5 s by default.
  function refreshMs() {
    const n = Number(new URLSearchParams(location.search).get("refresh_ms"));
    return Number.isInteger(n) && n >= 500 && n <= 60000 ? n : 5000;
  }

  // The rollout panel follows one key: `?rollout=<group>/<key>`, else the one picked in its
  // list, else the key of the newest published change.
  const rollout = { chosen: new URLSearchParams(location.search).get("rollout") };

  function pageSize() {
    const n = Number(new URLSearchParams(location.search).get("page_size"));
    return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 100;
  }

  // The page shown: the node list, its uptimes and its drifting nodes all name it the same way.
  function pageQuery() {
    const cursor = pages.current ? `&cursor=${encodeURIComponent(pages.current)}` : "";
    return `limit=${PAGE_SIZE}${cursor}`;
  }

  function nodesPath() {
    return `/v1/nodes?${pageQuery()}`;
  }

  const $ = (sel) => document.querySelector(sel);

  // The group shown: `?group=<g>` in the dashboard's URL, else every group. A token limited to
  // groups (its `groups` claim) shows only those: one of them at a time when it holds several
  // (the API asks such a token to name one), its only one otherwise.
  const view = { group: new URLSearchParams(location.search).get("group") || "" };

  // The `groups` claim of a `kon1.<claims>.<signature>` token, read without checking it (the API
  // checks it); undefined for a token of every group or one that cannot be read.
  function tokenGroups(token) {
    try {
      const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return Array.isArray(claims.groups) ? [...claims.groups].sort() : undefined;
    } catch {
      return undefined;
    }
  }

  // The group to ask for with this token: the one picked if the token may read it, else the
  // first of a limited token's groups, else none (every group).
  function groupFor(token) {
    const limited = token ? tokenGroups(token) : undefined;
    if (!limited) return view.group;
    return limited.includes(view.group) ? view.group : limited[0] || "";
  }

  // `path` with `group=` added when a group is shown.
  function scoped(path, token = sessionStorage.getItem(TOKEN_KEY)) {
    const g = groupFor(token);
    if (!g) return path;
    return `${path}${path.includes("?") ? "&" : "?"}group=${encodeURIComponent(g)}`;
  }

  // The picker: every group for a token of every group (from the unfiltered summary), else the
  // token's own.
  // The fleet's group names, from the last unfiltered summary: asked apart (once a minute at
  // most) only while one group is shown, so a refresh does not make a second summary request.
  const fleetGroups = { names: [], atMs: 0 };

  async function renderGroupPicker(summary) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const limited = token ? tokenGroups(token) : undefined;
    if (!limited && !view.group) {
      fleetGroups.names = summary.groups.map((g) => g.group).sort();
      fleetGroups.atMs = Date.now();
    } else if (!limited && Date.now() - fleetGroups.atMs > 60_000) {
      fleetGroups.names = (await api("/v1/fleet/summary")).groups.map((g) => g.group).sort();
      fleetGroups.atMs = Date.now();
    }
    const names =
      limited || [...new Set([...fleetGroups.names, view.group])].filter(Boolean).sort();
    const picker = $("#group");
    const want = [...(limited ? [] : [""]), ...names];
    const have = [...picker.options].map((o) => o.value);
    if (want.join("\n") !== have.join("\n")) {
      picker.replaceChildren(
        ...want.map((g) => {
          const o = document.createElement("option");
          o.value = g;
          o.textContent = g || "all groups";
          return o;
        }),
      );
    }
    picker.value = groupFor(token);
    picker.disabled = want.length <= 1;
    $("#group-picker").hidden = false;
  }

  // The API token lives in this tab's session storage only (gone when the tab closes) and goes
  // with every request as `Authorization: Bearer`. A 401 means it is no longer good (expired,
  // revoked): it is dropped and the sign-in form comes back.
  const TOKEN_KEY = "konorkestra.analytics.token";

  class SignedOut extends Error {}

  async function api(path, token = sessionStorage.getItem(TOKEN_KEY)) {
    if (!token) throw new SignedOut("sign in with an API token");
    const res = await fetch(path, {
      headers: { accept: "application/json", authorization: `Bearer ${token}` },
    });
    if (res.status === 401)
      throw new SignedOut("the token was refused (wrong, expired or revoked)");
    if (res.status === 403) {
      const body = await res.json().catch(() => ({}));
      throw new SignedOut(
        (body && body.error && body.error.message) || "the token lacks the 'read' scope",
      );
    }
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  function showSignIn(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    document.body.dataset.signedIn = "false";
    delete document.body.dataset.ready;
    $("#signin").hidden = false;
    $("#signout").hidden = true;
    $("#updated").textContent = "signed out";
    $("#signin-error").hidden = !message;
    $("#signin-error").textContent = message || "";
    $("#signin-token").focus();
  }

  function showSignedIn() {
    document.body.dataset.signedIn = "true";
    $("#signin").hidden = true;
    $("#signout").hidden = false;
    $("#signin-error").hidden = true;
  }

  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("#signin-token").value.trim();
    // Checked once before it is kept, so a mistyped token never lands in storage.
    api(scoped("/v1/fleet/summary", token), token).then(
      () => {
        sessionStorage.setItem(TOKEN_KEY, token);
        $("#signin-token").value = "";
        showSignedIn();
        void refresh();
      },
      (err) => showSignIn(String(err.message || err)),
    );
  });
  $("#signout").addEventListener("click", () => showSignIn());

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c);
      else td.textContent = c === null || c === undefined ? "–" : String(c);
      tr.appendChild(td);
    }
    return tr;
  }

  function ago(ms) {
    if (ms === null || ms === undefined) return "–";
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.round(s / 60)} min`;
    if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }

  function renderSummary(summary) {
    for (const k of ["up", "down", "left", "flapping", "total"]) {
      $(`#summary-${k}`).textContent = String(summary.totals[k]);
    }
  }

  function uptimeBar(pct) {
    const wrap = el("span");
    if (pct === null || pct === undefined) {
      wrap.textContent = "–";
      return wrap;
    }
    const bar = el("span", null, "bar");
    const fill = el("span");
    fill.style.width = `${Math.max(0, Math.min(100, pct))}%`;
    bar.appendChild(fill);
    wrap.appendChild(bar);
    wrap.appendChild(el("span", ` ${pct.toFixed(1)}%`, "uptime-pct"));
    return wrap;
  }

  // `key@revision` per key, with the newer revision the node refused or is waiting to activate.
  function configText(n) {
    const parts = Object.entries(n.config).map(([k, rev]) => {
      let t = `${k}@${rev}`;
      if (k in n.configRejected) t += ` (refused ${n.configRejected[k]})`;
      if (k in n.configPending) t += ` (pending ${n.configPending[k]})`;
      return t;
    });
    return parts.length > 0 ? parts.join(", ") : null;
  }

  const nodeKey = (n) => `${n.group}/${n.node}`;

  // Uptimes come from one request for the page (/v1/uptime), drift marks from the drift
  // summary's `page`: never one request per row.
  function renderNodes(nodes, uptime, drifted) {
    const now = Date.now();
    const pct = new Map(uptime.nodes.map((u) => [nodeKey(u), u.uptimePct]));
    const drift = new Map((drifted || []).map((d) => [nodeKey(d), d.keys]));
    const body = $("#nodes tbody");
    body.replaceChildren(
      ...nodes.map((n) => {
        const tr = row([
          n.group,
          n.node,
          el("span", n.status, `status ${n.status}`),
          n.sinceMs ? `${ago(now - n.sinceMs)} ago` : null,
          n.lastBeatAgeMs === null ? null : `${ago(n.lastBeatAgeMs)} ago`,
          uptimeBar(pct.get(nodeKey(n))),
          configText(n),
        ]);
        tr.dataset.node = nodeKey(n);
        tr.dataset.status = n.status;
        const keys = drift.get(nodeKey(n));
        if (keys) {
          tr.dataset.drift = keys.map((k) => k.key).join(",");
          tr.title = keys
            .map((k) => `${k.key}: runs ${k.revision ?? "none"}, latest ${k.latestRevision}`)
            .join("; ");
          tr.classList.add("drifted");
        }
        return tr;
      }),
    );
  }

  function renderIncidents(incidents) {
    const body = $("#incidents tbody");
    body.replaceChildren(
      ...incidents.map((i) => {
        const tr = row([
          `${i.group}/${i.node}`,
          i.cause + (i.suspect ? " (suspect)" : ""),
          new Date(i.startMs).toLocaleString(),
          i.open ? `${ago(i.durationMs)} (open)` : ago(i.durationMs),
        ]);
        tr.dataset.node = `${i.group}/${i.node}`;
        tr.dataset.open = String(i.open);
        return tr;
      }),
    );
  }

  // Counts from /v1/config/drift/summary: the whole fleet's drift without its node lists.
  function renderDrift(groups) {
    const rows = [];
    for (const g of groups) {
      for (const k of g.keys) {
        const tr = row([g.group, k.key, k.latestRevision, k.inSync, k.drifted, k.missing]);
        tr.dataset.key = `${g.group}/${k.key}`;
        rows.push(tr);
      }
    }
    $("#drift tbody").replaceChildren(...rows);
  }

  // A change is shown with who made it: the git author, else the publisher (loader id or
  // cli:<user>), else the node that reported it.
  function changedBy(c) {
    return c.author || c.publishedBy || (c.nodeId ? `node ${c.nodeId}` : null);
  }

  function where(c) {
    const e = c.error || {};
    const file = e.file || c.sourcePath;
    if (!file) return null;
    return e.line ? `${file}:${e.line}${e.column ? `:${e.column}` : ""}` : file;
  }

  function configRow(c, cells) {
    const tr = row([new Date(c.atMs).toLocaleString(), `${c.group}/${c.key || "?"}`, ...cells]);
    tr.dataset.event = c.eventId;
    tr.dataset.kind = c.kind;
    return tr;
  }

  function renderConfigChanges(changes) {
    $("#config-changes tbody").replaceChildren(
      ...changes.map((c) =>
        configRow(c, [el("span", c.kind, `kind ${c.kind}`), c.revision, changedBy(c)]),
      ),
    );
  }

  function renderConfigRejections(rejections) {
    $("#config-rejections tbody").replaceChildren(
      ...rejections.map((c) =>
        configRow(c, [
          c.nodeId ? `node ${c.nodeId}` : "config-loader",
          where(c),
          c.error ? c.error.reason : null,
        ]),
      ),
    );
  }

  function rolloutKeys(drift, changes) {
    const keys = new Set();
    for (const g of drift) for (const k of g.keys) keys.add(`${g.group}/${k.key}`);
    const newest = changes.find((c) => c.kind === "published" && c.key);
    if (newest) keys.add(`${newest.group}/${newest.key}`);
    if (rollout.chosen) keys.add(rollout.chosen);
    const picked = rollout.chosen || (newest ? `${newest.group}/${newest.key}` : [...keys][0]);
    const select = $("#rollout-key");
    select.replaceChildren(
      ...[...keys].sort().map((k) => {
        const o = el("option", k);
        o.value = k;
        o.selected = k === picked;
        return o;
      }),
    );
    return picked;
  }

  function ms(v) {
    return v === null || v === undefined
      ? "–"
      : v < 1000
        ? `${v} ms`
        : `${(v / 1000).toFixed(1)} s`;
  }

  function renderRollout(r) {
    const panel = $("#rollout-panel");
    if (!r) {
      panel.dataset.key = "";
      $("#rollout-summary").textContent = "no rollout to show";
      $("#rollout tbody").replaceChildren();
      $("#rollout-behind").textContent = "";
      return;
    }
    const latest = r.revisions.find((x) => x.latest);
    panel.dataset.key = `${r.group}/${r.key}`;
    panel.dataset.converged = String(Boolean(latest && latest.converged));
    $("#rollout-summary").textContent = latest
      ? `${r.group}/${r.key}: revision ${latest.revision} runs on ${latest.running} of ${r.liveNodes} live nodes` +
        (latest.converged ? " (converged)" : ` (${latest.behind} behind)`)
      : `${r.group}/${r.key}`;
    $("#rollout tbody").replaceChildren(
      ...r.revisions.map((x) => {
        const pct = r.liveNodes > 0 ? (100 * x.running) / r.liveNodes : 0;
        const bar = el("span", null, "bar");
        const fill = el("span");
        fill.style.width = `${pct}%`;
        bar.appendChild(fill);
        const tr = row([
          x.latest ? `${x.revision} (latest)` : x.revision,
          x.publishedAtMs ? new Date(x.publishedAtMs).toLocaleTimeString() : null,
          x.running,
          bar,
          x.pending,
          x.refused,
          x.behind,
          `${ms(x.convergence.p50Ms)} / ${ms(x.convergence.p99Ms)}`,
        ]);
        tr.dataset.revision = String(x.revision);
        tr.dataset.running = String(x.running);
        tr.dataset.refused = String(x.refused);
        tr.dataset.behind = String(x.behind);
        return tr;
      }),
    );
    $("#rollout-behind").textContent =
      r.behind.length === 0
        ? "no live node is behind"
        : "behind: " +
          r.behind
            .map((b) => `${b.node} on ${b.revision === null ? "none" : b.revision} (${b.state})`)
            .join(", ");
  }

  async function refreshRollout(drift, changes) {
    const picked = rolloutKeys(drift, changes);
    if (!picked) return renderRollout(null);
    const [group, ...rest] = picked.split("/");
    const path = `/v1/rollouts?group=${encodeURIComponent(group)}&key=${encodeURIComponent(rest.join("/"))}`;
    // Unknown key (404): the panel says so; other errors go to the page's error line.
    const r = await api(path).catch((err) => {
      if (/HTTP 404/.test(String(err.message))) return null;
      throw err;
    });
    renderRollout(r);
  }

  $("#rollout-key").addEventListener("change", (e) => {
    rollout.chosen = e.target.value;
    void refresh();
  });

  // One point per bucket over the whole window (missing minutes are zero beats), so the x axis
  // always spans the hour even when only a few minutes had beats.
  function gapFill(series) {
    const byT = new Map(series.points.map((p) => [p.tMs, p]));
    const xs = [];
    const beats = [];
    const late = [];
    const start = Math.floor(series.fromMs / series.bucketMs) * series.bucketMs;
    for (let t = start; t < series.toMs; t += series.bucketMs) {
      const p = byT.get(t);
      xs.push(t / 1000);
      beats.push(p ? p.beats : 0);
      late.push(p ? p.lateBeats : 0);
    }
    return [xs, beats, late];
  }

  function renderChart(series) {
    const total = series.points.reduce((s, p) => s + p.beats, 0);
    const lateTotal = series.points.reduce((s, p) => s + p.lateBeats, 0);
    const caption = $("#chart-caption");
    caption.textContent = `${total} beats, ${lateTotal} late, in the last hour`;
    caption.dataset.beats = String(total);
    if (typeof uPlot === "undefined") {
      caption.textContent += " (chart library missing: run npm run build)";
      return;
    }
    const data = gapFill(series);
    if (chart) {
      chart.setData(data);
      return;
    }
    chart = new uPlot(
      {
        width: Math.min(1150, document.body.clientWidth - 30),
        height: 220,
        scales: { x: { time: true } },
        series: [
          {},
          { label: "beats", stroke: "#2e7d32", fill: "rgba(46,125,50,0.1)" },
          { label: "late", stroke: "#ef6c00" },
        ],
        axes: [{}, { label: "per minute" }],
      },
      data,
      $("#chart"),
    );
  }

  async function refresh() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return;
    try {
      const [summary, nodes, uptime, incidents, drift, series, changes, rejections] =
        await Promise.all([
          api(scoped("/v1/fleet/summary")),
          api(scoped(nodesPath())),
          api(scoped(`/v1/uptime?window=24h&${pageQuery()}`)),
          api(scoped("/v1/incidents")),
          api(scoped(`/v1/config/drift/summary?${pageQuery()}`)),
          api(scoped("/v1/series/heartbeats?bucket=1m&window=1h")),
          api(scoped(`/v1/config/history?limit=${CONFIG_ROWS}`)),
          api(scoped(`/v1/config/rejections?limit=${CONFIG_ROWS}`)),
        ]);
      await renderGroupPicker(summary);
      renderSummary(summary);
      renderNodes(nodes.nodes, uptime, drift.page);
      renderPager(nodes, summary.totals.total);
      renderIncidents(incidents.incidents);
      renderDrift(drift.groups);
      renderChart(series);
      renderConfigChanges(changes.changes);
      renderConfigRejections(rejections.changes);
      await refreshRollout(drift.groups, changes.changes);
      $("#error").hidden = true;
      $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.ready = "true";
    } catch (err) {
      if (err instanceof SignedOut) return showSignIn(err.message);
      $("#error").hidden = false;
      $("#error").textContent = String(err.message || err);
    }
  }

  function renderPager(page, total) {
    pages.next = page.next;
    const first = pages.before.length * PAGE_SIZE;
    $("#nodes-page").textContent =
      page.nodes.length > 0
        ? `${first + 1}–${first + page.nodes.length} of ${total}`
        : `0 of ${total}`;
    $("#nodes-prev").disabled = pages.before.length === 0;
    $("#nodes-next").disabled = !pages.next;
    document.body.dataset.page = String(pages.before.length + 1);
  }

  $("#group").addEventListener("change", () => {
    view.group = $("#group").value;
    const url = new URL(location.href);
    if (view.group) url.searchParams.set("group", view.group);
    else url.searchParams.delete("group");
    history.replaceState(null, "", url);
    // Another group's list starts at its first page.
    pages.before = [];
    pages.current = null;
    pages.next = null;
    void refresh();
  });

  $("#nodes-next").addEventListener("click", () => {
    if (!pages.next) return;
    pages.before.push(pages.current);
    pages.current = pages.next;
    void refresh();
  });
  $("#nodes-prev").addEventListener("click", () => {
    if (pages.before.length === 0) return;
    pages.current = pages.before.pop();
    void refresh();
  });

  if (sessionStorage.getItem(TOKEN_KEY)) showSignedIn();
  else showSignIn();
  void refresh();
  setInterval(refresh, REFRESH_MS);
})();
