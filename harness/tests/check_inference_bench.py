#!/usr/bin/env python3
"""Runs `armorbench bench` small (4 rounds of 20 requests, as root: a runc container, the host
enforcer) and checks what it reports: every phase measured in every round, the order reversed
every other round (ABBA), the three comparisons with their intervals, and no enforcer decision
on the benign server. Figures themselves are not judged here (ci/bench.sh reports them)."""

import json
import os
import subprocess
import sys
import tempfile

armorbench = sys.argv[1]
rounds, requests = 4, 20
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "inference.json")
    done = subprocess.run([armorbench, "bench", "--rounds", str(rounds), "--requests",
                           str(requests), "--json", path], capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        sys.exit(f"armorbench bench exited {done.returncode}: {done.stderr[-3000:]}")
    result = json.load(open(path))

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


phases = ["off", "audit", "block", "off-again"]
check(result["rounds"] == rounds and result["requests_per_phase"] == requests, "rounds/requests")
for phase in phases:
    check(result["phases"].get(phase, {}).get("samples") == rounds * requests,
          f"phase {phase}: {result['phases'].get(phase)}")
    check(result["phases"].get(phase, {}).get("p50_us", 0) > 0, f"phase {phase}: no p50")
check(result["orders"] == [phases if r % 2 == 0 else phases[::-1] for r in range(rounds)],
      f"phase orders are not ABBA: {result['orders']}")
comparisons = {(f["comparison"], f["statistic"]): f for f in result["figures"]}
for name in ("audit/off", "block/off", "off-again/off (noise floor)"):
    figure = comparisons.get((name, "p50"))
    check(figure is not None, f"no p50 figure for {name}")
    if figure:
        ratio = figure["ratio"]
        check(0 < ratio["low"] <= ratio["high"] and ratio["estimate"] > 0, f"{name}: {ratio}")
check(result["enforcer_events"] == 0,
      f"the enforcer decided on the benign server: {result['enforcer_events']} events")
check(result["backend"] in ("tracepoint", "bpf-lsm"), f"backend {result['backend']}")
if failures:
    print(json.dumps(result, indent=1))
    sys.exit("\n".join(failures))
print(done.stdout)
