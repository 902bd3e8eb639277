#!/usr/bin/env bash
# Development build of the addon that several sessions may run at once: serialised with flock,
# and configure + build instead of rebuild, so build/Release/multiproc.node is replaced rather
# than deleted under a test that is loading it. (configure recomputes the source hash.)
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/multiproc-build.lock sh -c 'npx node-gyp configure >/dev/null 2>&1 && npx node-gyp build 2>&1 | grep -E "error|warning" ; test -f build/Release/multiproc.node'
