#!/usr/bin/env bash
# Front-end packages from npm (package-lock.json) copied into webapp/static/vendor, which Flask serves:
# no CDN, so pages work offline and the Content-Security-Policy stays 'self'. Run by make run/test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
out=webapp/static/vendor
rm -rf "$out"
mkdir -p "$out/bpmn-js"
cp node_modules/hds-core/lib/base.min.css "$out/hds-base.min.css"
cp node_modules/hds-core/lib/components/all.min.css "$out/hds-components.min.css"
cp node_modules/htmx.org/dist/htmx.min.js "$out/htmx.min.js"
cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js "$out/bpmn-js/"
cp -r node_modules/bpmn-js/dist/assets "$out/bpmn-js/assets"
touch "$out/.built"
