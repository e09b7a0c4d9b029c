// OSCAL 1.1 assessment results (README "Reports for reviewers"): the controls the scenarios
// cite, an observation per case run (method TEST) and a finding per control, satisfied or not.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace armorbench::reports {

inline constexpr const char* kOscalVersion = "1.1.3";

// Renders a results.json document. UUIDs are name-based (v5) on the run id, so rendering the
// same results twice gives the same document.
nlohmann::json oscal_assessment_results(const nlohmann::json& results);

// A scenario's control id ("SI-3", "CM-7(2)") as an OSCAL control-id ("si-3", "cm-7.2");
// nullopt for ids that name no NIST SP 800-53 control (OWASP LLM ids become props).
std::optional<std::string> oscal_control_id(const std::string& control);

// An RFC 4122 version-5 UUID (SHA-1, name-based) of `name` in ArmorBench's namespace.
std::string uuid_v5(const std::string& name);

}  // namespace armorbench::reports
