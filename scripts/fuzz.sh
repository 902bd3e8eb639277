#!/usr/bin/env bash
# `npm run fuzz`: the fuzz campaign of every decoder of bytes another process controls.
#   native  libFuzzer + ASan + UBSan (clang): ring.h over corrupt shared memory
#           (native/fuzz/ring_fuzz.cc; seeds generated from valid ring states)
#   ts      fast-check mutation fuzzing of the TypeScript decoders (test/fuzz/targets.ts)
# Each target runs for a bounded number of executions, one process at a time.
#
#   npm run fuzz                       1,000,000 executions per target
#   npm run fuzz -- --quick            20,000 per target (a smoke run, about a minute)
#   npm run fuzz -- --runs N           N per target
#   npm run fuzz -- --only native|ts   one half
#   npm run fuzz -- --seed S           fast-check's seed (default: time-based, printed)
#
# Needs clang with libFuzzer (Debian: apt-get install -y clang) for the native half, and the
# addon built (npm run build). Not part of `npm test`: CI does not need clang. A crash is saved
# under build/fuzz/ (native: artifacts/, TypeScript: ts-findings/); turn each into a regression
# test (native/fuzz/regressions/ring/, or a case in test/fuzz.test.ts).
set -uo pipefail
cd "$(dirname "$0")/.."

runs=1000000
only=""
seed=$(( $(date +%s) % 2147483647 ))
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) runs=20000 ;;
    --runs) runs="$2"; shift ;;
    --only) only="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    *) echo "fuzz: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

out=build/fuzz
mkdir -p "$out"
summary=()
failed=0

run_native() {
  local cxx="${CLANGXX:-clang++}"
  if ! command -v "$cxx" >/dev/null; then
    echo "fuzz: $cxx not found; install clang with libFuzzer (Debian: apt-get install -y clang)" >&2
    summary+=("native/ring: not run (no clang)")
    failed=1
    return
  fi
  local flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -Inative)
  "$cxx" "${flags[@]}" -DRING_FUZZ_SEEDS native/fuzz/ring_fuzz.cc -o "$out/ring-seeds-gen" || { failed=1; return; }
  "$cxx" "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    native/fuzz/ring_fuzz.cc -o "$out/ring_fuzz" || { failed=1; return; }
  rm -rf "$out/ring-seeds" && mkdir -p "$out/ring-seeds" "$out/corpus/ring" "$out/artifacts/ring"
  "$out/ring-seeds-gen" "$out/ring-seeds" >/dev/null
  local started=$SECONDS
  # -timeout: one input may take at most 10 s (a loop that does not end is a finding).
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$out/ring_fuzz" -runs="$runs" -timeout=10 -max_len=20000 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/ring/" "$out/corpus/ring" "$out/ring-seeds" native/fuzz/regressions/ring \
    >"$out/ring_fuzz.log" 2>&1
  local rc=$?
  local execs crashes
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/ring_fuzz.log" | grep -o '[0-9]*$')
  crashes=$(find "$out/artifacts/ring" -type f -newer "$out/ring_fuzz" | wc -l)
  [ "$rc" -ne 0 ] && crashes=$((crashes > 0 ? crashes : 1))
  summary+=("native/ring: ${execs:-?} executions, $crashes crashes, $((SECONDS - started)) s (log: $out/ring_fuzz.log)")
  if [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E -m3 'ERROR|invariant failed|runtime error' "$out/ring_fuzz.log" >&2
  fi
}

run_ts() {
  if [ ! -e build/Release/multiproc.node ] && ! ls prebuilds/*/*.node >/dev/null 2>&1; then
    echo "fuzz: the addon is not built: run npm run build first" >&2
    failed=1
    return
  fi
  npm run --silent build:ts >/dev/null || { failed=1; return; }
  local target
  for target in deserialize launch handles frames pipe ring pool shareable-list; do
    local line
    # One process per target (a finding or a leak in one does not spill into the next); an hour
    # at most each.
    line=$(timeout 3600 npx tsx test/fuzz/run.ts --runs "$runs" --seed "$seed" "$target" 2>&1)
    local rc=$?
    echo "$line" | grep -v '^fuzz ts/' | grep -v '^largest' >&2
    summary+=("$(echo "$line" | grep '^fuzz ts/' || echo "ts/$target: failed to run (exit $rc)")")
    [ "$rc" -ne 0 ] && failed=1
  done
}

[ "$only" != "ts" ] && run_native
[ "$only" != "native" ] && run_ts
echo
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FINDINGS (see above)"
  exit 1
fi
echo "fuzz: no findings"
