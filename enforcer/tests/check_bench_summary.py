#!/usr/bin/env python3
"""Runs armorbench-enforcer-bench for one round (--json-summary) and checks what it reports: a
figure for every operation, scope and mode, and an attribution that counts this enforcer's own
programs (every open and exec inside the scoped cgroup runs its hook at least once, a loopback
connect runs its socket programs inside and not outside) with run times that add up. Figures
themselves are not judged here (that is ci/bench.sh's job on a quiet host); this checks that the
tool measures."""

import json
import subprocess
import sys

bench = sys.argv[1]
done = subprocess.run([bench, "--rounds=1", "--json-summary"], capture_output=True, text=True,
                      timeout=600)
if done.returncode != 0:
    sys.exit(f"{bench} exited {done.returncode}: {done.stderr[-2000:]}")
lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
if len(lines) != 1:
    sys.exit(f"expected one JSON summary line on stdout, got: {done.stdout[-2000:]}")
summary = json.loads(lines[0])
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


check(summary["backend"] in ("tracepoint", "bpf-lsm"), f"backend {summary['backend']}")
operations = {"execve_wait", "openat_close", "connect_loopback"}
rows = {(r["operation"], r["scope"]): r for r in summary["rows"]}
check(set(rows) == {(o, s) for o in operations for s in ("outside", "inside")},
      f"rows {sorted(rows)}")
for key, row in rows.items():
    for mode in ("off", "audit", "block"):
        check(row[f"{mode}_ns"] > 0, f"{key}: no {mode} figure")
    check(row["noise_ratio"] > 0, f"{key}: no noise figure")

attribution = {(a["operation"], a["scope"]): a for a in summary["attribution"]}
check(set(attribution) == set(rows), f"attribution rows {sorted(attribution)}")
for key, a in attribution.items():
    check(a["ops"] > 0, f"{key}: no operation succeeded in block mode")
    check(a["program_ns"] >= a["top_program_ns"] >= 0, f"{key}: program times do not add up")
    check(abs(a["extra_ns"] - a["program_ns"] - a["rest_ns"]) < 1e-6 * max(1, a["extra_ns"]),
          f"{key}: extra != programs + rest")
for operation in ("openat_close", "execve_wait"):
    a = attribution.get((operation, "inside"), {})
    check(a.get("runs_per_op", 0) >= 1 and a.get("program_ns", 0) > 0,
          f"{operation} inside: the enforcer's hook did not run on every operation: {a}")
    check(a.get("top_program", "").startswith("ab_"), f"{operation} inside: {a}")
# The statistics count every process's runs (another process's opens during the pass land in the
# tracepoint programs), but the socket programs are attached to the scoped cgroup only.
outside = attribution.get(("connect_loopback", "outside"), {})
inside = attribution.get(("connect_loopback", "inside"), {})
socket_programs = ("ab_connect4", "ab_sock_create")
check(not any(p in outside.get("programs", {}) for p in socket_programs),
      f"connect outside the scoped cgroup ran the enforcer's cgroup programs: {outside}")
check(all(inside.get("programs", {}).get(p, {}).get("runs_per_op", 0) >= 1 for p in socket_programs),
      f"connect inside the scoped cgroup did not run its socket programs each time: {inside}")

if failures:
    print(json.dumps(summary, indent=1))
    sys.exit("\n".join(failures))
print(f"ok: backend {summary['backend']}, "
      + ", ".join(f"{k[0]}/{k[1]} {a['program_ns']:.0f} ns in {a['runs_per_op']:.2f} runs"
                  for k, a in attribution.items()))
