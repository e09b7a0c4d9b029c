// Percentiles and bootstrap ratio intervals (Statistics.h).
#include "armorbench/harness/Statistics.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace armorbench {

std::string to_string(Statistic statistic) {
  switch (statistic) {
    case Statistic::kP50:
      return "p50";
    case Statistic::kP95:
      return "p95";
    case Statistic::kP99:
      return "p99";
    case Statistic::kMean:
      return "mean";
  }
  return "?";
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p * static_cast<double>(sorted.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(rank));
  const auto high = static_cast<std::size_t>(std::ceil(rank));
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - static_cast<double>(low));
}

double statistic_of(std::vector<double> samples, Statistic statistic) {
  if (samples.empty()) return 0;
  if (statistic == Statistic::kMean) {
    double sum = 0;
    for (double v : samples) sum += v;
    return sum / static_cast<double>(samples.size());
  }
  std::sort(samples.begin(), samples.end());
  const double p = statistic == Statistic::kP50 ? 0.50 : statistic == Statistic::kP95 ? 0.95 : 0.99;
  return percentile(samples, p);
}

Interval::Side Interval::against(double threshold) const {
  if (low > threshold) return Side::kAbove;
  if (high <= threshold) return Side::kBelow;
  return Side::kStraddles;
}

nlohmann::json Interval::to_json() const {
  return {{"estimate", estimate}, {"low", low}, {"high", high}};
}

namespace {

// Geometric mean of treatment/control ratios; strata whose control statistic is 0 are skipped.
double aggregate(const std::vector<double>& treatment, const std::vector<double>& control) {
  double log_sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < treatment.size(); ++i) {
    if (control[i] <= 0 || treatment[i] <= 0) continue;
    log_sum += std::log(treatment[i] / control[i]);
    ++n;
  }
  return n ? std::exp(log_sum / n) : 0;
}

std::vector<double> resample(const std::vector<double>& samples, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> pick(0, samples.size() - 1);
  std::vector<double> out(samples.size());
  for (double& v : out) v = samples[pick(rng)];
  return out;
}

}  // namespace

std::optional<Interval> bootstrap_ratio(const std::vector<Stratum>& strata, Statistic statistic,
                                        const BootstrapOptions& options) {
  std::vector<const Stratum*> usable;
  for (const Stratum& s : strata)
    if (!s.treatment.empty() && !s.control.empty()) usable.push_back(&s);
  if (usable.empty()) return std::nullopt;

  std::vector<double> treatment(usable.size()), control(usable.size());
  for (std::size_t i = 0; i < usable.size(); ++i) {
    treatment[i] = statistic_of(usable[i]->treatment, statistic);
    control[i] = statistic_of(usable[i]->control, statistic);
  }
  Interval interval;
  interval.estimate = aggregate(treatment, control);

  std::mt19937_64 rng(options.seed);
  std::vector<double> ratios;
  ratios.reserve(static_cast<std::size_t>(std::max(options.resamples, 1)));
  for (int r = 0; r < options.resamples; ++r) {
    for (std::size_t i = 0; i < usable.size(); ++i) {
      treatment[i] = statistic_of(resample(usable[i]->treatment, rng), statistic);
      control[i] = statistic_of(resample(usable[i]->control, rng), statistic);
    }
    ratios.push_back(aggregate(treatment, control));
  }
  std::sort(ratios.begin(), ratios.end());
  const double tail = (1 - options.confidence) / 2;
  interval.low = percentile(ratios, tail);
  interval.high = percentile(ratios, 1 - tail);
  return interval;
}

}  // namespace armorbench
