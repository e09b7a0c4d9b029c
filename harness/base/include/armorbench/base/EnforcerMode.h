// The enforcer modes a case runs under, shared by the scenario model, the harness and the guest
// agent's protocol: off (no enforcer), audit (record only), block (deny).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace armorbench {

enum class EnforcerMode { kOff, kAudit, kBlock };

std::string to_string(EnforcerMode mode);  // "off", "audit", "block"
std::optional<EnforcerMode> enforcer_mode_from_string(std::string_view text);

}  // namespace armorbench
