#!/usr/bin/env bash
# Every speed figure of the README's "Speed" section from one run of this script:
#   1. the default suite (or SUITE=...): wall time and where the time went, per target kind;
#   2. the enforcer's cost on benign inference, interleaved rounds, with 95% intervals and the
#      run's own noise floor (armorbench bench);
#   3. the enforcer's cost per syscall on the host's backend (tracepoint here) and on bpf-lsm
#      inside a micro-VM guest, medians of interleaved rounds with each row's noise, and how
#      much of block's extra time its BPF programs ran (run-time statistics).
# SKIP_SUITE=1 skips part 1 (it takes minutes). Output also lands in bench-out/.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
out=bench-out
mkdir -p "$out"

if [[ "${SKIP_SUITE:-0}" != 1 ]]; then
  echo "== 1. the default suite: ${SUITE:-scenarios/}"
  start=$(date +%s.%N)
  status=0
  build/bin/armorbench run ${SUITE:-scenarios/} --out "$out/suite" >"$out/suite.log" 2>&1 || status=$?
  end=$(date +%s.%N)
  /usr/bin/python3 - "$out/suite/results.json" "$start" "$end" "$status" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"wall time {wall:.1f} s (exit {sys.argv[4]}), run {doc['run']['id']}, "
      f"{len(doc['cases'])} case runs")
print(f"{'target':8} {'runs':>5} {'seconds':>8} {'median':>7}  " +
      " ".join(f"{p:>13}" for p in ["prepare", "launch", "server-start", "requests", "attack",
                                     "stop", "other"]) + f" {'harness':>8} {'loads':>6}")
for b in doc["summary"]["time"]:
    cells = " ".join(f"{p['seconds']:7.1f} ({100 * p['share']:3.0f}%)" for p in b["phases"])
    print(f"{b['target_kind']:8} {b['runs']:5d} {b['seconds']:8.1f} {b['median_run_s']:7.2f}  "
          f"{cells} {100 * b['harness_share']:7.1f}% {b['enforcer_loads']:6d}")
PY
  echo
fi

echo "== 2. benign inference: the enforcer off, audit, block, off again, interleaved"
build/bin/armorbench bench --rounds "${ROUNDS:-12}" --requests "${REQUESTS:-200}" \
  --json "$out/inference.json"
echo

echo "== 3. syscalls, host: $(uname -r)"
build/bin/armorbench-enforcer-bench --rounds="${SYSCALL_ROUNDS:-7}" 2>/dev/null |
  sed -n '/^enforcer overhead/,$p' | tee "$out/syscalls-host.txt"

echo
echo "== 3b. syscalls, guest micro-VM under TCG (absolute times are emulated; compare the ratios)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# The policy is planted in the guest: a checkout in a private directory (a 0700 home) is not
# readable over the guest's 9p view of the host root (guest-run stages the binaries likewise).
# --unconfined: the bench loads its own enforcer and makes its own cgroups, which a confined
# workload (a container's capabilities, read-only cgroupfs) cannot.
build/bin/armorbench-guest-run --memory 1024 --ready-timeout 900 --unconfined \
  --plant /tmp/realistic-policy.toml="$PWD/enforcer/bench/realistic-policy.toml" -- \
  "$PWD/build/bin/armorbench-enforcer-bench" --rounds="${GUEST_ROUNDS:-3}" --json-summary \
  --policy=/tmp/realistic-policy.toml >"$report"
/usr/bin/python3 - "$report" <<'PY' | tee "$out/syscalls-guest.txt"
import json, sys
report = json.load(open(sys.argv[1]))
if "line" not in report.get("workload", {}):
    tail = report.get("workload", {}).get("stderr_tail", "").strip().splitlines()
    print("guest figures NOT measured: the enforcer bench did not run in the guest ("
          + (tail[-1] if tail else "no output") + ")")
    sys.exit(1)
line = report["workload"]["line"]
print(f"enforcer overhead, backend {line['backend']}, median of {line['rounds']} interleaved rounds (ns per op)")
print(f"{'operation':18} {'scope':8} {'off':>12} {'audit':>12} {'block':>12} {'audit/off':>9} "
      f"{'block/off':>9} {'noise':>9}")
for r in line["rows"]:
    print(f"{r['operation']:18} {r['scope']:8} {r['off_ns']:12.1f} {r['audit_ns']:12.1f} "
          f"{r['block_ns']:12.1f} {r['audit_ratio']:9.3f} {r['block_ratio']:9.3f} "
          f"{r['noise_ratio']:9.3f}")
if line.get("attribution"):
    print("\nwhere block's extra time goes: its programs' run time (BPF run-time statistics, a "
          "separate pass)\nand the rest (the hook's dispatch)")
    print(f"{'operation':18} {'scope':8} {'ops':>8} {'extra':>12} {'programs':>12} {'runs/op':>9} "
          f"{'rest':>12}  longest program (ns/op)")
    for a in line["attribution"]:
        print(f"{a['operation']:18} {a['scope']:8} {a['ops']:8d} {a['extra_ns']:12.1f} "
              f"{a['program_ns']:12.1f} {a['runs_per_op']:9.2f} {a['rest_ns']:12.1f}  "
              f"{a['top_program'] or '-'} ({a['top_program_ns']:.1f})")
PY
