// Fixture for ci/check-layers.sh: the enforcer must not include attacks (same layer).
#include "armorbench/base/Error.h"
#include "armorbench/attacks/Attack.h"
