#!/usr/bin/env bash
# The test command (README): set up the machine if needed, build, run every test with CTest.
# Privileged tests (BPF, runc, libvirt, QEMU) run too: CI runs this as root.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
# Privileged tests share the kernel, runc state and libvirt: they run one at a time.
ctest --test-dir build --output-on-failure --timeout 900 "$@"
# The unit tests again under ASan+UBSan, then the fuzzers (README "Sanitizers and fuzzing"); not
# when a subset was asked for (ci/test.sh -R NAME).
if [ "$#" -eq 0 ]; then
  ci/sanitize.sh
fi
