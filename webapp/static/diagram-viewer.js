// What a page needs to draw a deployed BPMN diagram with bpmn-js (NavigatedViewer, served from static/vendor):
// the viewer bundle, its stylesheets, the page's texts from data-text-* and zoom buttons, which
// the case page's diagram (case-diagram.js) and the managers' heatmap (manage-heatmap.js) share; the host element
// holds .polku-diagram__status and .polku-diagram__canvas (case-diagram.css). DOM APIs only, no HTML strings.

const VIEWER_URL = new URL("vendor/bpmn-js/bpmn-navigated-viewer.production.min.js", import.meta.url);
const STYLES = ["vendor/bpmn-js/assets/diagram-js.css", "vendor/bpmn-js/assets/bpmn-js.css"];

// Links diagram-js.css and bpmn-js.css once (no @import: axe-core would re-inject it inline, which the CSP refuses).
export function linkStyles() {
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

// The page's text data-text-<name> (camelCase `name`) with {key} placeholders filled in.
export function text(host, name, values = {}) {
  let out = host.dataset[name] || "";
  for (const [key, value] of Object.entries(values)) out = out.replace(`{${key}}`, value);
  return out;
}

export async function loadViewer() {
  if (!globalThis.BpmnJS) await import(VIEWER_URL.href); // a UMD bundle: it sets globalThis.BpmnJS
  return globalThis.BpmnJS;
}

export function has(registry, id) {
  return Boolean(id && registry.get(id));
}

// Zoom in / out / fit buttons above the canvas (labels from data-text-zoom-in, -zoom-out, -fit).
export function controls(viewer, host) {
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
  return bar;
}

// Draws `xml` into the host's canvas, fitted, with the SVG labelled by data-text-label; returns the viewer.
export async function drawXml(host, xml) {
  const container = host.querySelector(".polku-diagram__canvas");
  host.classList.add("polku-diagram__viewer--js"); // the canvas takes its size before bpmn-js measures it
  const [BpmnJS] = await Promise.all([loadViewer(), linkStyles()]);
  const viewer = new BpmnJS({container});
  await viewer.importXML(xml);
  viewer.get("canvas").zoom("fit-viewport", "auto");
  const svg = container.querySelector(".djs-container > svg");
  if (svg) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", text(host, "textLabel"));
  }
  return viewer;
}
