#!/usr/bin/env bash
# Refresh the vendored Apache ECharts (kesu/web/static/vendor/echarts/) from the npm registry:
# the minified build, its licence and notice, and a VERSION file. No CDN: the pages load it
# from /static (the Content-Security-Policy allows scripts from 'self' only).
#   bash scripts/vendor-echarts.sh            # the latest release
#   ECHARTS_VERSION=6.1.0 bash scripts/vendor-echarts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dest=kesu/web/static/vendor/echarts
version="${ECHARTS_VERSION:-$(npm view echarts version)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "echarts@${version}" >/dev/null)
tar -xzf "$work/echarts-${version}.tgz" -C "$work" \
    package/dist/echarts.min.js package/LICENSE package/NOTICE
mkdir -p "$dest"
cp "$work/package/dist/echarts.min.js" "$dest/echarts.min.js"
cp "$work/package/LICENSE" "$dest/LICENSE"
cp "$work/package/NOTICE" "$dest/NOTICE"
printf 'echarts %s (npm registry, dist/echarts.min.js)\n' "$version" >"$dest/VERSION"
echo "vendored echarts ${version} into ${dest}"
