// Fixture for ci/check-layers.sh: base must not include the harness.
#include "armorbench/harness/Target.h"
