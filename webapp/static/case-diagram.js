// Where the case is, drawn on its BPMN diagram (bpmn-js NavigatedViewer, served from static/vendor).
// The case page's #diagram-viewer names the JSON (webapp/cases/diagram.py) in data-diagram-url and carries the
// page's texts in data-text-*; the lists beside it say the same without JavaScript. Overlays are built with
// DOM APIs (textContent), never from HTML strings, so nothing from the case can become markup.

const VIEWER_URL = new URL("vendor/bpmn-js/bpmn-navigated-viewer.production.min.js", import.meta.url);
const STYLES = ["vendor/bpmn-js/assets/diagram-js.css", "vendor/bpmn-js/assets/bpmn-js.css"];

function linkStyles() {
  const loaded = [];
  for (const path of STYLES) {
    const href = new URL(path, import.meta.url).href;
    if (document.querySelector(`link[href="${href}"]`)) continue;
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    loaded.push(new Promise((resolve) => { link.onload = resolve; link.onerror = resolve; }));
    document.head.append(link);
  }
  return Promise.all(loaded);
}

function text(host, name, values = {}) {
  let out = host.dataset[name] || "";
  for (const [key, value] of Object.entries(values)) out = out.replace(`{${key}}`, value);
  return out;
}

function badge(className, content, title) {
  const el = document.createElement("span");
  el.className = `polku-diagram__badge ${className}`;
  el.textContent = content;
  if (title) el.title = title;
  return el;
}

async function loadViewer() {
  if (!globalThis.BpmnJS) await import(VIEWER_URL.href); // a UMD bundle: it sets globalThis.BpmnJS
  return globalThis.BpmnJS;
}

function has(registry, id) {
  return Boolean(id && registry.get(id));
}

function mark(viewer, host, data) {
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  const active = new Set(data.active.map((s) => s.id));
  for (const id of data.flows) if (has(registry, id)) canvas.addMarker(id, "polku-flow-taken");
  for (const id of data.completed) {
    if (!has(registry, id) || active.has(id)) continue;
    canvas.addMarker(id, "polku-done");
    overlays.add(id, "polku-done", {position: {top: -8, right: 8}, html: badge("polku-diagram__badge--done", "✓")});
  }
  for (const step of data.active) {
    if (!has(registry, step.id)) continue;
    canvas.addMarker(step.id, "polku-active");
    const since = step.sinceText ? text(host, "textSince", {when: step.sinceText}) : "";
    const el = badge("polku-diagram__badge--active", text(host, "textNow"), since);
    if (step.dueText) {
      const due = document.createElement("span");
      due.className = "polku-diagram__badge-line";
      due.textContent = text(host, "textDue", {when: step.dueText});
      el.append(due);
    }
    overlays.add(step.id, "polku-active", {position: {top: -14, left: -6}, scale: {min: 1}, html: el});
  }
  for (const timer of data.timers) {
    if (!has(registry, timer.id)) continue;
    canvas.addMarker(timer.id, "polku-timer");
    overlays.add(timer.id, "polku-timer", {position: {bottom: -6, left: -20}, scale: {min: 1},
      html: badge("polku-diagram__badge--timer", text(host, "textDue", {when: timer.dueText || ""}))});
  }
  const calls = new Map();
  for (const called of data.called) {
    if (!has(registry, called.element)) continue;
    if (!calls.has(called.element)) calls.set(called.element, []);
    calls.get(called.element).push(called);
  }
  for (const [element, instances] of calls) {
    canvas.addMarker(element, "polku-called");
    const list = document.createElement("ul");
    list.className = "polku-diagram__called-links";
    for (const called of instances) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = called.pageUrl;
      link.textContent = text(host, "textOpen", {what: called.label});
      if (called.active.length && !called.ended) link.classList.add("polku-diagram__link--active");
      item.append(link);
      list.append(item);
    }
    overlays.add(element, "polku-called", {position: {top: 86, left: 0}, scale: {min: 1}, html: list});
  }
  viewer.on("element.click", (event) => {
    const instances = calls.get(event.element.id);
    if (instances && instances.length === 1) window.location.assign(instances[0].pageUrl);
  });
}

function controls(viewer, host) {
  const canvas = viewer.get("canvas");
  const bar = document.createElement("div");
  bar.className = "polku-diagram__controls";
  const buttons = [
    ["textZoomIn", "+", () => canvas.zoom(canvas.zoom() * 1.25)],
    ["textZoomOut", "−", () => canvas.zoom(canvas.zoom() / 1.25)],
    ["textFit", "⤢", () => canvas.zoom("fit-viewport", "auto")],
  ];
  for (const [name, symbol, action] of buttons) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "polku-diagram__control";
    button.setAttribute("aria-label", text(host, name));
    button.title = text(host, name);
    button.textContent = symbol;
    button.addEventListener("click", action);
    bar.append(button);
  }
  host.insertBefore(bar, host.querySelector(".polku-diagram__canvas"));
}

async function draw(host) {
  const status = host.querySelector(".polku-diagram__status");
  const container = host.querySelector(".polku-diagram__canvas");
  status.textContent = text(host, "textLoading");
  host.classList.add("polku-diagram__viewer--js"); // the canvas takes its size before bpmn-js measures it
  try {
    const response = await fetch(host.dataset.diagramUrl, {headers: {Accept: "application/json"},
                                                           credentials: "same-origin"});
    if (!response.ok) throw new Error(`diagram data: HTTP ${response.status}`);
    const data = await response.json();
    if (!data.xml) throw new Error("no diagram for this process");
    const [BpmnJS] = await Promise.all([loadViewer(), linkStyles()]);
    const viewer = new BpmnJS({container});
    await viewer.importXML(data.xml);
    viewer.get("canvas").zoom("fit-viewport", "auto");
    mark(viewer, host, data);
    const svg = container.querySelector(".djs-container > svg");
    if (svg) {
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", text(host, "textLabel"));
    }
    controls(viewer, host);
    host.querySelector(".polku-diagram__legend")?.removeAttribute("hidden");
    host.classList.add("polku-diagram__viewer--drawn");
    status.textContent = "";
  } catch (err) {
    container.remove();
    status.textContent = text(host, "textFailed");
    console.warn("case diagram:", err); // eslint-disable-line no-console
  }
}

const host = document.getElementById("diagram-viewer");
if (host) draw(host);
