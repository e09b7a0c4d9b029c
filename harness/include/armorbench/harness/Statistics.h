// Statistics on raw latency samples: percentiles, and ratios of a statistic between two sets of
// runs with a percentile-bootstrap 95% interval. Deterministic (a fixed seed): the same samples
// give the same interval in every run, so a gate or a comparison never flips on a re-run of the
// arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace armorbench {

enum class Statistic { kP50, kP95, kP99, kMean };

std::string to_string(Statistic statistic);  // "p50", "p95", "p99", "mean"

// `sorted` ascending; p in [0, 1]; linear interpolation between closest ranks (numpy's default).
double percentile(const std::vector<double>& sorted, double p);

// The statistic of `samples` (any order); 0 for no samples.
double statistic_of(std::vector<double> samples, Statistic statistic);

struct Interval {
  double estimate = 0;
  double low = 0;
  double high = 0;

  // Where the interval lies against a threshold: wholly above it, wholly at or below it, or across.
  enum class Side { kAbove, kBelow, kStraddles };
  Side against(double threshold) const;
  nlohmann::json to_json() const;
};

// One stratum (a case): the samples of the runs being judged and of the runs they are judged
// against (e.g. block mode and off mode of the same benign case on the same target).
struct Stratum {
  std::vector<double> treatment;
  std::vector<double> control;
};

struct BootstrapOptions {
  int resamples = 2000;
  double confidence = 0.95;
  std::uint64_t seed = 0x5eed;
};

// The ratio treatment/control of `statistic`, over strata as the geometric mean of the per-stratum
// ratios, with a percentile-bootstrap interval that resamples each side of each stratum with
// replacement (so the spread of every stratum counts). Strata with an empty side are skipped;
// nullopt when none is left.
std::optional<Interval> bootstrap_ratio(const std::vector<Stratum>& strata, Statistic statistic,
                                        const BootstrapOptions& options = {});

}  // namespace armorbench
