// Statistics: percentiles, and bootstrap ratio intervals on samples whose answer is known.
#include "armorbench/harness/Statistics.h"

#include <gtest/gtest.h>

#include <random>

namespace armorbench {
namespace {

std::vector<double> normal(double mean, double sd, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(mean, sd);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(d(rng));
  return out;
}

TEST(Statistics, StatisticsOfKnownSamples) {
  const std::vector<double> s{5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(statistic_of(s, Statistic::kP50), 3);
  EXPECT_DOUBLE_EQ(statistic_of(s, Statistic::kP95), 4.8);  // numpy.percentile
  EXPECT_DOUBLE_EQ(statistic_of(s, Statistic::kP99), 4.96);
  EXPECT_DOUBLE_EQ(statistic_of(s, Statistic::kMean), 3);
  EXPECT_DOUBLE_EQ(statistic_of({}, Statistic::kP50), 0);
}

TEST(Statistics, IdenticalSidesGiveRatioOneWithATightInterval) {
  const std::vector<double> a = normal(1000, 20, 64, 1);
  const auto r = bootstrap_ratio({{a, a}}, Statistic::kP50);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->estimate, 1.0);
  EXPECT_LT(r->low, 1.0);
  EXPECT_GT(r->high, 1.0);
  EXPECT_LT(r->high - r->low, 0.05);
  EXPECT_EQ(r->against(1.05), Interval::Side::kBelow);
}

TEST(Statistics, AKnownSlowdownIsInsideItsIntervalAndAboveAThresholdBelowIt) {
  // Every treatment sample is a control sample times 1.2: the p50 ratio is exactly 1.2.
  const std::vector<double> control = normal(1000, 10, 200, 2);
  std::vector<double> treatment;
  for (double v : control) treatment.push_back(v * 1.2);
  const auto r = bootstrap_ratio({{treatment, control}}, Statistic::kP50);
  ASSERT_TRUE(r);
  EXPECT_NEAR(r->estimate, 1.2, 1e-9);
  EXPECT_LE(r->low, 1.2);
  EXPECT_GE(r->high, 1.2);
  EXPECT_EQ(r->against(1.10), Interval::Side::kAbove);
  EXPECT_EQ(r->against(1.30), Interval::Side::kBelow);
  EXPECT_EQ(r->against(1.2), Interval::Side::kStraddles);
}

TEST(Statistics, StrataAreCombinedByTheGeometricMeanOfTheirRatios) {
  const std::vector<double> a{100, 100, 100}, b{200, 200, 200}, c{50, 50, 50};
  // Ratios 2 and 0.5: geometric mean 1; constant samples make the interval a point.
  const auto r = bootstrap_ratio({{b, a}, {c, a}}, Statistic::kMean);
  ASSERT_TRUE(r);
  EXPECT_NEAR(r->estimate, 1.0, 1e-12);
  EXPECT_NEAR(r->low, 1.0, 1e-12);
  EXPECT_NEAR(r->high, 1.0, 1e-12);
  EXPECT_FALSE(bootstrap_ratio({{{}, a}}, Statistic::kP50));  // nothing on one side
}

TEST(Statistics, TheIntervalIsDeterministicAndNarrowsWithMoreSamples) {
  const auto few =
      bootstrap_ratio({{normal(1000, 100, 16, 3), normal(1000, 100, 16, 4)}}, Statistic::kP50);
  const auto again =
      bootstrap_ratio({{normal(1000, 100, 16, 3), normal(1000, 100, 16, 4)}}, Statistic::kP50);
  const auto many =
      bootstrap_ratio({{normal(1000, 100, 1024, 3), normal(1000, 100, 1024, 4)}}, Statistic::kP50);
  ASSERT_TRUE(few && again && many);
  EXPECT_EQ(few->low, again->low);
  EXPECT_EQ(few->high, again->high);
  EXPECT_LT(many->high - many->low, (few->high - few->low) / 2);
}

}  // namespace
}  // namespace armorbench
