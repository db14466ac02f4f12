// Where cases wait, on the process diagram (/manage/heatmap, manage/_heatmap.html): bpmn-js draws the deployed
// version from data-heatmap-url (webapp/manage/heatmap.py); each step where cases wait gets a marker class
// polku-heat + polku-heat--<level> (colour and border width) and a badge linking to its list with the number, so
// nothing is said by colour alone. The radios switch the measure (cases waiting / age p90) without a reload.
// Overlays are built with DOM APIs (textContent), never from HTML strings.

import {controls, drawXml, has, text} from "./diagram-viewer.js";

const LEVELS = [1, 2, 3, 4];

function badge(step, measure) {
  const link = document.createElement("a");
  link.className = `polku-heat-badge polku-heat-badge--${step.level[measure]}`;
  link.href = step.listUrl;
  link.textContent = step.text[measure];
  link.setAttribute("aria-label", step.label);
  link.title = step.label;
  return link;
}

function paint(viewer, host, data, measure) {
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  overlays.remove({type: "polku-heat"});
  for (const step of data.steps) {
    if (!has(registry, step.elementId)) continue;
    for (const n of LEVELS) canvas.removeMarker(step.elementId, `polku-heat--${n}`);
    canvas.addMarker(step.elementId, "polku-heat");
    canvas.addMarker(step.elementId, `polku-heat--${step.level[measure]}`);
    overlays.add(step.elementId, "polku-heat", {position: {top: -12, right: -4}, scale: {min: 1},
                                                html: badge(step, measure)});
  }
  for (const legend of host.querySelectorAll(".polku-heatmap__legend")) {
    legend.hidden = legend.dataset.measure !== measure;
  }
  host.dataset.measure = measure;
}

function remember(measure) {
  const url = new URL(window.location.href);
  if (measure === "waiting") url.searchParams.delete("measure");
  else url.searchParams.set("measure", measure);
  window.history.replaceState(null, "", url);
  const field = document.getElementById("filter-measure"); // the filters' form keeps it too
  if (field) field.value = measure;
}

async function draw(host) {
  const status = host.querySelector(".polku-diagram__status");
  status.textContent = text(host, "textLoading");
  try {
    const response = await fetch(host.dataset.heatmapUrl, {headers: {Accept: "application/json"},
                                                           credentials: "same-origin"});
    if (!response.ok) throw new Error(`heatmap data: HTTP ${response.status}`);
    const data = await response.json();
    if (!data.xml) throw new Error("no diagram for this process version");
    const viewer = await drawXml(host, data.xml);
    const steps = new Map(data.steps.map((s) => [s.elementId, s]));
    const measure = host.dataset.measure === "age" ? "age" : "waiting";
    paint(viewer, host, data, measure);
    viewer.on("element.click", (event) => {
      const step = steps.get(event.element.id);
      if (step) window.location.assign(step.listUrl);
    });
    const choice = host.querySelector(".polku-heatmap__measure");
    if (choice) {
      choice.hidden = false;
      choice.addEventListener("change", (event) => {
        const chosen = event.target.value === "age" ? "age" : "waiting";
        paint(viewer, host, data, chosen);
        remember(chosen);
      });
    }
    controls(viewer, host);
    host.classList.add("polku-diagram__viewer--drawn");
    status.textContent = "";
  } catch (err) {
    host.querySelector(".polku-diagram__canvas")?.remove();
    host.classList.remove("polku-diagram__viewer--js");
    status.textContent = text(host, "textFailed");
    console.warn("heatmap:", err); // eslint-disable-line no-console
  }
}

const host = document.getElementById("heatmap-viewer");
if (host) draw(host);
