// Reading results.json fields defensively (private to reports/src): the renderers take any
// results.json, including an older or hand-edited one, and a missing or mistyped field reads as
// empty rather than throwing.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace armorbench::reports {

// The string field `key` of `j`; "" when `j` is no object or the field is absent or no string.
inline std::string str(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace armorbench::reports
