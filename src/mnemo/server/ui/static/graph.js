// The graph view: draws /ui/graph.json with vis-network (served from the pyvis package).
"use strict";
(function () {
  const box = document.getElementById("graph");
  if (!box) return;
  const status = document.getElementById("graph-status");
  const find = document.getElementById("graph-find");
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                   "#ff9da7", "#9c755f", "#bab0ac"];
  function colour(node) {
    if (node.kind === "missing") return "#dddddd";
    if (node.kind === "tag") return "#c7e9c0";
    if (typeof node.group !== "number" || node.group < 0) return "#9aa5b1";
    return palette[node.group % palette.length];
  }
  function draw(data) {
    const nodes = new vis.DataSet(data.nodes.map(function (n) {
      return { id: n.id, label: n.label, title: n.title, color: colour(n),
               shape: n.kind === "missing" ? "box" : "dot", size: n.focus ? 24 : 12,
               borderWidth: n.focus ? 3 : 1, kind: n.kind };
    }));
    const edges = new vis.DataSet(data.edges.map(function (e, i) {
      return { id: i, from: e.from, to: e.to, dashes: e.dashes, arrows: e.kind === "semantic" ? "" : "to",
               color: { color: e.dashes ? "#bbbbbb" : "#888888" } };
    }));
    const network = new vis.Network(box, { nodes: nodes, edges: edges }, {
      physics: { stabilization: { iterations: 200 }, barnesHut: { springLength: 120 } },
      interaction: { hover: true, tooltipDelay: 150 },
      nodes: { font: { size: 13 } },
    });
    status.textContent = data.nodes.length + " notes, " + data.edges.length + " connections, "
      + data.clusters + " clusters";
    let pending = null;
    function open(id) {
      const node = nodes.get(id);
      if (node && node.kind === "document") {
        window.location.href = box.dataset.open + "&doc=" + encodeURIComponent(id);
      }
    }
    network.on("click", function (params) {
      if (!params.nodes.length) return;
      const id = params.nodes[0];
      clearTimeout(pending);  // a second click may make it a double click
      pending = setTimeout(function () { open(id); }, 350);
    });
    network.on("doubleClick", function (params) {
      clearTimeout(pending);
      if (!params.nodes.length || nodes.get(params.nodes[0]).kind !== "document") return;
      window.location.href = box.dataset.around + "&doc=" + encodeURIComponent(params.nodes[0]);
    });
    if (find) {
      find.form.addEventListener("submit", function (event) {
        event.preventDefault();  // Enter opens the first note found
        const chosen = network.getSelectedNodes();
        if (chosen.length) open(chosen[0]);
      });
      find.addEventListener("input", function () {
        const text = find.value.trim().toLowerCase();
        if (!text) { network.unselectAll(); return; }
        const hit = nodes.get({ filter: function (n) {
          return n.kind === "document" && ((n.label || "").toLowerCase().includes(text) || (n.title || "").toLowerCase().includes(text));
        } });
        if (hit.length) {
          network.selectNodes(hit.map(function (n) { return n.id; }));
          network.focus(hit[0].id, { scale: 1.2, animation: true });
        }
      });
    }
  }
  function start() {
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(draw)
      .catch(function (err) { status.textContent = "The graph could not be loaded: " + err.message; });
  }
  if (window.vis) start(); else window.addEventListener("load", start);
})();
