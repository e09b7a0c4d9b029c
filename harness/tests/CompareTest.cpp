// compare: synthetic regressions in verdicts and latency between two results.json documents.
#include "armorbench/harness/Compare.h"

#include <gtest/gtest.h>

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

using nlohmann::json;

json run_case(const std::string& name, const std::string& mode, const std::string& verdict,
              std::vector<double> samples = {}) {
  json c = {{"scenario", "s"},       {"case", name},       {"target", "runc"},
            {"enforcer_mode", mode}, {"verdict", verdict}, {"latency", nullptr}};
  if (!samples.empty()) c["latency"] = {{"samples_us", samples}};
  return c;
}

json results(std::vector<json> cases) {
  return {{"schema", 1}, {"cases", cases}};
}

std::vector<double> around(double value, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(value + (i % 7) - 3);
  return out;
}

TEST(Compare, AWeakerVerdictIsARegressionAndAStrongerOneIsNot) {
  const json base =
      results({run_case("os-system", "block", "blocked"), run_case("miner", "block", "reached"),
               run_case("dump", "audit", "detected")});
  const json now =
      results({run_case("os-system", "block", "reached"), run_case("miner", "block", "blocked"),
               run_case("dump", "audit", "invalid")});
  const Comparison c = compare_results(base, now);
  EXPECT_TRUE(c.regression());
  ASSERT_EQ(c.verdicts.size(), 3u);
  for (const VerdictChange& v : c.verdicts) {
    if (v.id == "s/os-system[runc/block]") {
      EXPECT_TRUE(v.regression);
    }
    if (v.id == "s/miner[runc/block]") {
      EXPECT_FALSE(v.regression);
    }
    if (v.id == "s/dump[runc/audit]") {
      EXPECT_TRUE(v.regression);  // a claim that can no longer be made
      EXPECT_NE(v.why.find("invalid"), std::string::npos);
    }
  }
  const std::string md = c.markdown();
  EXPECT_NE(md.find("**Regression**"), std::string::npos) << md;
  EXPECT_NE(md.find("| s/os-system[runc/block] | blocked | reached |"), std::string::npos) << md;
}

TEST(Compare, LatencyIsARegressionOnlyWhenItsIntervalIsAboveTheSlowdown) {
  const json base = results({run_case("benign", "block", "allowed", around(1000, 64)),
                             run_case("other", "block", "allowed", around(1000, 64))});
  const json now = results({run_case("benign", "block", "allowed", around(1300, 64)),
                            run_case("other", "block", "allowed", around(1001, 64))});
  const Comparison c = compare_results(base, now);
  EXPECT_TRUE(c.regression());
  EXPECT_TRUE(c.verdicts.empty());
  ASSERT_EQ(c.latency.size(), 2u);
  for (const LatencyChange& l : c.latency) {
    if (l.id == "s/benign[runc/block]") {
      EXPECT_TRUE(l.significant);
      EXPECT_TRUE(l.regression);
      EXPECT_NEAR(l.ratio.estimate, 1.3, 0.01);
    } else {
      EXPECT_FALSE(l.regression) << l.id;  // 0.1% slower: nowhere near 1.10
    }
  }
  CompareOptions lenient;
  lenient.max_slowdown = 1.5;
  EXPECT_FALSE(compare_results(base, now, lenient).regression());
}

TEST(Compare, AddedAndRemovedRunsAreListedAndAreNoRegression) {
  const json base = results({run_case("a", "off", "reached"), run_case("gone", "off", "reached")});
  const json now = results({run_case("a", "off", "reached"), run_case("new", "off", "reached")});
  const Comparison c = compare_results(base, now);
  EXPECT_FALSE(c.regression());
  EXPECT_EQ(c.matched, 1u);
  EXPECT_EQ(c.added, std::vector<std::string>{"s/new[runc/off]"});
  EXPECT_EQ(c.removed, std::vector<std::string>{"s/gone[runc/off]"});
  const json j = c.to_json();
  EXPECT_EQ(j["regression"], false);
  EXPECT_EQ(j["added"].size(), 1u);
}

TEST(Compare, ADocumentThatIsNotResultsIsAnInputError) {
  try {
    compare_results(json{{"cases", 3}}, results({}));
    ADD_FAILURE() << "compared a malformed document";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
}

}  // namespace
}  // namespace armorbench
