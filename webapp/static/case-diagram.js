// Where the case is, drawn on its BPMN diagram (bpmn-js NavigatedViewer, served from static/vendor).
// The case page's #diagram-viewer names the JSON (webapp/cases/diagram.py) in data-diagram-url and carries the
// page's texts in data-text-*; the lists beside it say the same without JavaScript. Overlays are built with
// DOM APIs (textContent), never from HTML strings, so nothing from the case can become markup.

import {controls, drawXml, has, text} from "./diagram-viewer.js";

function badge(className, content, title) {
  const el = document.createElement("span");
  el.className = `polku-diagram__badge ${className}`;
  el.textContent = content;
  if (title) el.title = title;
  return el;
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

async function draw(host) {
  const status = host.querySelector(".polku-diagram__status");
  const container = host.querySelector(".polku-diagram__canvas");
  status.textContent = text(host, "textLoading");
  try {
    const response = await fetch(host.dataset.diagramUrl, {headers: {Accept: "application/json"},
                                                           credentials: "same-origin"});
    if (!response.ok) throw new Error(`diagram data: HTTP ${response.status}`);
    const data = await response.json();
    if (!data.xml) throw new Error("no diagram for this process");
    const viewer = await drawXml(host, data.xml);
    mark(viewer, host, data);
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
