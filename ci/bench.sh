#!/usr/bin/env bash
# Enforcer overhead in one go: the host's backend (tracepoint here) measured on the host, and the
# bpf-lsm backend measured inside a micro-VM guest (the only place these hosts load lsm programs).
# Figures are medians of interleaved rounds; ratios are to `off` from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)" --target armorbench-enforcer-bench armorbench-guest-run \
  armorbench-guest-agent armorbench-enforcer

echo "== host: $(uname -r)"
build/bin/armorbench-enforcer-bench --rounds="${ROUNDS:-7}" 2>/dev/null | sed -n '/^enforcer overhead/,$p'

echo
echo "== guest micro-VM under TCG (absolute times are emulated; compare the ratios)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
build/bin/armorbench-guest-run --memory 1024 --ready-timeout 900 -- \
  "$PWD/build/bin/armorbench-enforcer-bench" --rounds="${GUEST_ROUNDS:-3}" --json-summary >"$report"
/usr/bin/python3 - "$report" <<'PY'
import json, sys
line = json.load(open(sys.argv[1]))["workload"]["line"]
print(f"enforcer overhead, backend {line['backend']}, median of {line['rounds']} interleaved rounds (ns per op)")
print(f"{'operation':18} {'scope':8} {'off':>12} {'audit':>12} {'block':>12} {'audit/off':>9} "
      f"{'block/off':>9} {'noise':>9}")
for r in line["rows"]:
    print(f"{r['operation']:18} {r['scope']:8} {r['off_ns']:12.1f} {r['audit_ns']:12.1f} "
          f"{r['block_ns']:12.1f} {r['audit_ratio']:9.3f} {r['block_ratio']:9.3f} "
          f"{r['noise_ratio']:9.3f}")
PY
