// Two runs' results.json side by side: per case run, verdict changes (a weaker verdict is a
// regression), latency changes judged on the raw samples (bootstrap interval of the p50 ratio),
// and case runs added or removed. For a CI gate (`armorbench compare`, `run --baseline`) and a
// pull-request comment (Markdown).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/harness/Statistics.h"

namespace armorbench {

struct CompareOptions {
  // A latency regression: the new/base p50 ratio's whole interval above this.
  double max_slowdown = 1.10;
  BootstrapOptions bootstrap;
};

struct VerdictChange {
  std::string id;  // scenario/case[target/mode]
  std::string base, now;
  bool regression = false;
  std::string why;
};

struct LatencyChange {
  std::string id;
  Interval ratio;  // p50, new over base
  std::size_t base_samples = 0, new_samples = 0;
  bool significant = false;  // the interval excludes 1
  bool regression = false;   // the interval lies above max_slowdown
};

struct Comparison {
  std::vector<VerdictChange> verdicts;  // only runs whose verdict changed
  std::vector<LatencyChange> latency;   // every run with samples on both sides
  std::vector<std::string> added, removed;
  std::size_t matched = 0;
  double max_slowdown = 1.10;

  bool regression() const;
  nlohmann::json to_json() const;
  std::string markdown() const;
};

// Throws an input Error when either document is not an ArmorBench results.json.
Comparison compare_results(const nlohmann::json& base, const nlohmann::json& now,
                           const CompareOptions& options = {});

}  // namespace armorbench
