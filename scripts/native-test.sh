#!/usr/bin/env bash
# Builds and runs the plain-C++ tests in native/test/ (no Node, no V8).
#   scripts/native-test.sh        optimised build with assertions
#   scripts/native-test.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer, any report fails
#   scripts/native-test.sh tsan   ThreadSanitizer (for the threaded ring tests)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-plain}"
out="native/test/out/$mode"
mkdir -p "$out"
cxx="${CXX:-g++}"
flags=(-std=c++20 -g -Wall -Wextra -Werror -pthread -Inative)
case "$mode" in
  plain) flags+=(-O2) ;;
  asan) flags+=(-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all) ;;
  tsan) flags+=(-O1 -fsanitize=thread) ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
passed=0
failed=0
for source in native/test/*_test.cc; do
  name="$(basename "$source" .cc)"
  "$cxx" "${flags[@]}" "$source" -o "$out/$name"
  if "$out/$name"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name ($mode)" >&2; fi
done
echo "native tests ($mode): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
