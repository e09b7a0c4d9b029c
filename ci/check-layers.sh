#!/usr/bin/env bash
# Fails on an include that runs upward (README "Architecture"). Each component may include only
# itself and the layers below it:
#   base < workload < enforcer, attacks < vms < harness < reports < cli
# enforcer and attacks share a layer and include neither each other.
# Usage: ci/check-layers.sh [source root]   (CTest runs it as the `layers` test)
set -euo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root"

level_of() {
  case "$1" in
    base) echo 0 ;;
    workload) echo 1 ;;
    enforcer | attacks) echo 2 ;;
    vms) echo 3 ;;
    harness) echo 4 ;;
    reports) echo 5 ;;
    cli) echo 6 ;;
    *) echo -1 ;;
  esac
}

# The component a source file belongs to, by where it lives.
component_of() {
  case "$1" in
    harness/base/*) echo base ;;
    harness/workload/*) echo workload ;;
    harness/cli/*) echo cli ;;
    harness/*) echo harness ;;
    enforcer/*) echo enforcer ;;
    attacks/*) echo attacks ;;
    vms/*) echo vms ;;
    reports/*) echo reports ;;
    *) echo "" ;;
  esac
}

violations=0
files=0
includes=0
while IFS= read -r file; do
  from=$(component_of "$file")
  [ -n "$from" ] || continue
  files=$((files + 1))
  from_level=$(level_of "$from")
  # "armorbench/<component>/..." or "armorbench/<component>.h"
  while IFS=: read -r line target; do
    includes=$((includes + 1))
    to_level=$(level_of "$target")
    if [ "$to_level" -lt 0 ]; then
      echo "$file:$line: includes armorbench/$target, which is no component" >&2
      violations=$((violations + 1))
    elif [ "$target" != "$from" ] && [ "$to_level" -ge "$from_level" ]; then
      echo "$file:$line: $from (layer $from_level) includes $target (layer $to_level): upward or sideways" >&2
      violations=$((violations + 1))
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"armorbench/' "$file" |
           sed -E 's|^([0-9]+):.*"armorbench/([a-z_]+)[/.].*|\1:\2|')
done < <(find harness enforcer attacks vms reports -type f \
           \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.c' \) | sort)

echo "layers: $files files, $includes project includes checked, $violations violation(s)"
[ "$violations" -eq 0 ]
