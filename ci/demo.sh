#!/usr/bin/env bash
# The main job (README): set up the machine, build, run the default suite, print the summary.
# Reports land in out/ (results.json, results.jsonl, junit.xml, summary.md).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
build/bin/armorbench doctor
status=0
build/bin/armorbench run scenarios/ --out out "$@" || status=$?
echo
echo "summary: out/summary.md; evidence: out/results.json; exit code ${status}"
exit "${status}"
