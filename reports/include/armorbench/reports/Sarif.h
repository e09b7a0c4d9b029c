// SARIF 2.1.0 for code scanning (README "Reports for reviewers"): a finding per attack that
// reached its objective where it was meant to be stopped, per benign run disrupted, and per case
// run that produced no defensible verdict (invalid, error, not run).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace armorbench::reports {

// Renders a results.json document. Locations are the scenario files as the run named them
// (relative to the checkout the run ran in, uriBaseId %SRCROOT%) and the line of the case.
nlohmann::json sarif_log(const nlohmann::json& results);

// The stable identity of a finding across runs: scenario, case, target, mode and what kind of
// finding it is (never the line, the run id or the reason's wording).
std::string finding_fingerprint(const nlohmann::json& case_run, const std::string& finding);

}  // namespace armorbench::reports
