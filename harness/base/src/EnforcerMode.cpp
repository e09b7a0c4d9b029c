// Enforcer mode names.
#include "armorbench/base/EnforcerMode.h"

namespace armorbench {

std::string to_string(EnforcerMode mode) {
  switch (mode) {
    case EnforcerMode::kOff:
      return "off";
    case EnforcerMode::kAudit:
      return "audit";
    case EnforcerMode::kBlock:
      return "block";
  }
  return "off";
}

std::optional<EnforcerMode> enforcer_mode_from_string(std::string_view text) {
  if (text == "off") return EnforcerMode::kOff;
  if (text == "audit") return EnforcerMode::kAudit;
  if (text == "block") return EnforcerMode::kBlock;
  return std::nullopt;
}

}  // namespace armorbench
