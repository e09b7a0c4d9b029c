// One piece of evidence behind a verdict: what kind it is, a line a reviewer can read, and the
// observed data. Attacks produce it for their objectives, targets for what they saw, the harness
// for scoring; reports render it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace armorbench {

struct Evidence {
  std::string kind;  // objective | enforcer-event | kernel | inference | server | control | target
  std::string summary;  // one line a reviewer can read
  nlohmann::json data = nlohmann::json::object();

  nlohmann::json to_json() const;
};

}  // namespace armorbench
