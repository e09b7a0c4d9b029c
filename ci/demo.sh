#!/usr/bin/env bash
# The main job (README): set up the machine, build, run the default suite, print the summary.
# Reports land in out/ (results.json, results.jsonl, junit.xml, summary.md, report.html,
# results.sarif, assessment-results.json, statement.intoto.json), the evidence bundle in out/bundle
# and out/bundle.tar.gz, checked with `armorbench verify` at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
build/bin/armorbench doctor
status=0
build/bin/armorbench run scenarios/ --out out --bundle out/bundle "$@" || status=$?
echo
if [ -d out/bundle ]; then
  build/bin/armorbench verify out/bundle.tar.gz || status=$?
fi
echo "summary: out/summary.md; for reviewers: out/report.html; evidence: out/results.json and"
echo "out/bundle.tar.gz; exit code ${status}"
exit "${status}"
