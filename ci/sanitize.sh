#!/usr/bin/env bash
# Sanitizers and fuzzing (README "Sanitizers and fuzzing"), run by ci/test.sh after the main tests:
# a second build tree with clang, AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's
# instrumentation; the unit tests run in it (a finding aborts the test), then every libFuzzer
# target for FUZZ_SECONDS (default 20) from the repository's files and its regression inputs.
# Usage: ci/sanitize.sh [build dir]   (FUZZ_SECONDS=0 skips the fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-sanitize}"
seconds="${FUZZ_SECONDS:-20}"
case "$seconds" in
  '' | *[!0-9]*)
    echo "sanitize: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 4
    ;;
esac

# Line tables, not full debug info: the sanitizers' reports keep file:line, and the build (the
# larger part of this script's time) is shorter.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 \
  -DCMAKE_C_FLAGS_DEBUG=-gline-tables-only -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DARMORBENCH_SANITIZE=ON -DARMORBENCH_FUZZ=ON
# The unit test executables (and what they run: the CLI), and the fuzz targets.
mapfile -t tests < <(grep -rhoP 'gtest_discover_tests\(\K[a-z_]+(?=[^)]*LABELS unit)' \
  --include=CMakeLists.txt harness enforcer attacks vms reports | sort -u)
fuzzers=(fuzz_scenario_loader fuzz_kubearmor_policy fuzz_toml_policy fuzz_oip_response
  fuzz_agent_protocol)
cmake --build "$build" -j"$(nproc)" --target "${tests[@]}" "${fuzzers[@]}"

# halt_on_error: the first finding fails the test; leaks are findings too.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
ctest --test-dir "$build" -L unit -j"$(nproc)" --output-on-failure --no-tests=error --timeout 900

[ "$seconds" -gt 0 ] || exit 0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Each target: a scratch corpus (new inputs go there, not into the checkout), its regression
# inputs (crashes found and fixed: tests/fuzz/regressions/<target>/) and seeds from the repo.
fuzz() { # target seconds seed dirs...
  local target="$1" corpus regressions
  shift
  corpus="$(mktemp -d -p "$work")"
  regressions="$(find . -path "*/tests/fuzz/regressions/$target" -type d | head -n1)"
  echo "fuzz: $target for ${seconds}s"
  mkdir -p "$build/fuzz-artifacts"  # what a finding leaves: the input to keep as a regression
  # libFuzzer's progress lines go to a log; the summary (or, on a finding, the report) is printed.
  if ! "$build/bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/fuzz-artifacts/$target-" \
    -max_len=65536 -print_final_stats=1 "$corpus" ${regressions:+"$regressions"} "$@" \
    > "$work/$target.log" 2>&1; then
    tail -n 80 "$work/$target.log"
    echo "fuzz: $target found something; its input is in $build/fuzz-artifacts/" >&2
    return 1
  fi
  grep -E '^(Done|stat::peak_rss_mb)' "$work/$target.log" || true
}
seeds() { # a fresh dir holding copies of the files matching a find expression
  local dir
  dir="$(mktemp -d -p "$work")"
  find "$@" -type f -exec cp -t "$dir" {} + 2>/dev/null || true
  echo "$dir"
}
fuzz fuzz_scenario_loader "$(seeds scenarios harness/tests/scenarios harness/tests/bad-input -maxdepth 1 -name '*.toml')"
fuzz fuzz_kubearmor_policy "$(seeds scenarios/policies enforcer/tests/data harness/tests/bad-input/policies -name '*.yaml')"
fuzz fuzz_toml_policy "$(seeds scenarios/policies enforcer/tests/data harness/tests/bad-input/policies -name '*.toml')"
fuzz fuzz_oip_response harness/workload/tests/fuzz/seeds
fuzz fuzz_agent_protocol vms/tests/fuzz/seeds
echo "sanitize: unit tests clean under ASan+UBSan; every fuzz target ran ${seconds}s without a finding"
