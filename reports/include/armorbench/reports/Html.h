// The HTML report: one self-contained file (inline CSS and SVG, no script, no network) for a
// reviewer who would rather look than read (README "Reports for reviewers").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace armorbench::reports {

// Renders a results.json document: the verdict grid (a cell per case run, linked to its
// evidence), rates per configuration, latency distributions, overhead ratios with intervals,
// start and boot times, gates, host facts and which enforcer backend ran where.
std::string html_report(const nlohmann::json& results);

}  // namespace armorbench::reports
