#!/bin/sh
# Re-vendors the dashboard's front-end libraries from npm at the versions pinned in
# ../package.json (and ../package-lock.json). Installs into a throw-away directory, so no
# node_modules/ ever lands in the repository. Run from anywhere:
#   sh platform/interest_graph/api/static/vendor/refresh.sh
set -eu
vendor=$(cd "$(dirname "$0")" && pwd)
static=$(dirname "$vendor")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$static/package.json" "$static/package-lock.json" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts)
nm="$work/node_modules"
cp "$nm/chart.js/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
cp "$nm/chart.js/LICENSE.md" "$vendor/chart.js.LICENSE.md"
cp "$nm/@kurkle/color/LICENSE.md" "$vendor/kurkle-color.LICENSE.md"
cp "$nm/cytoscape/dist/cytoscape.min.js" "$vendor/cytoscape.min.js"
cp "$nm/cytoscape/LICENSE" "$vendor/cytoscape.LICENSE"
echo "vendored: chart.js $(node -p "require('$nm/chart.js/package.json').version")," \
     "cytoscape $(node -p "require('$nm/cytoscape/package.json').version")"
