#!/usr/bin/env bash
# Runs the vitest suite (or the files given) against the addon built with AddressSanitizer and
# UndefinedBehaviorSanitizer: the N-API glue (futex waiter threads, shm, process, sockets) runs
# sanitized inside real Node processes, children included (they inherit LD_PRELOAD).
#   bash scripts/addon-asan.sh                     every test file
#   bash scripts/addon-asan.sh test/queues.test.ts one file
# The build happens in a scratch copy of the tree, so the normal build/ is left alone.
# Leak detection is off: Node itself keeps allocations alive until exit by design.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
scratch="${MP_ASAN_DIR:-/tmp/multiproc-asan}"
mkdir -p "$scratch"
tar --exclude=./node_modules --exclude=./build --exclude=./native/test/out --exclude=./.git -cf - . | tar -xf - -C "$scratch"
ln -sfn "$root/node_modules" "$scratch/node_modules"
cd "$scratch"
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
CFLAGS="$sanitize" CXXFLAGS="$sanitize" LDFLAGS="-fsanitize=address,undefined" npx node-gyp rebuild >/dev/null 2>&1
npm run build:ts >/dev/null
asan="$(g++ -print-file-name=libasan.so)"
ubsan="$(g++ -print-file-name=libubsan.so)"
export LD_PRELOAD="$asan:$ubsan"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:verify_asan_link_order=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export MULTIPROC_ADDON_SANITIZED=1
# The committed prebuild cannot match this build: the freshness test is not the point here.
npx vitest run --exclude test/native/prebuild.test.ts "$@"
