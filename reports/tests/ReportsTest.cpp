// The report writers on hand-built results: JUnit counts and escaping (read back with a real XML
// parser), the Markdown and terminal summaries, and write_reports' file set.
#include "armorbench/reports/Reports.h"

#include <gtest/gtest.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace armorbench::reports {
namespace {
namespace fs = std::filesystem;
using boost::property_tree::ptree;

CaseResult make_case(const std::string& scenario, const std::string& name,
                     const std::string& target, EnforcerMode mode, Verdict verdict,
                     Verdict expected, const std::string& attack) {
  CaseResult c;
  c.scenario = scenario;
  c.scenario_file = "scenarios/" + scenario + ".toml";
  c.where = {c.scenario_file, 12, 1};
  c.case_name = name;
  c.target = target;
  c.target_kind = target;
  c.mode = mode;
  c.attack = attack;
  c.verdict = verdict;
  c.expected = expected;
  c.reason = "because <" + name + "> & \"so\" | on";
  c.evidence.push_back({"objective", "marker " + name + " absent", nlohmann::json::object()});
  c.duration_s = 1.5;
  return c;
}

RunResults sample() {
  RunResults r;
  r.run = {{"id", "0badcafe"}, {"started", "t0"}, {"finished", "t1"}};
  const std::string benign;
  const std::string attack = "pickle-injection";
  r.cases = {
      make_case("s<1>", "benign", "runc", EnforcerMode::kBlock, Verdict::kAllowed,
                Verdict::kAllowed, benign),
      make_case("s<1>", "os-system", "runc", EnforcerMode::kBlock, Verdict::kBlocked,
                Verdict::kBlocked, attack),
      make_case("s<1>", "exec-file-write", "runc", EnforcerMode::kBlock, Verdict::kReached,
                Verdict::kBlocked, attack),
      make_case("vm", "os-system", "cvm", EnforcerMode::kBlock, Verdict::kNotRun, Verdict::kBlocked,
                attack),
      make_case("vm", "dump", "kata", EnforcerMode::kBlock, Verdict::kError, Verdict::kReached,
                attack),
  };
  r.summary = summarize(r.cases);
  r.gates = {{"s<1>", "min_block_rate[runc]", false, true, "0.50 < 0.80 | see cases"},
             {"vm", "min_block_rate[cvm]", true, false, "not evaluated: nothing ran"}};
  return r;
}

TEST(Reports, JunitCountsEveryOutcomeAndEscapesText) {
  std::istringstream in(junit_xml(sample()));
  ptree xml;
  boost::property_tree::read_xml(in, xml);
  const ptree& all = xml.get_child("testsuites.<xmlattr>");
  // 5 case runs and 2 gates (one failed, one not evaluated).
  EXPECT_EQ(all.get<int>("tests"), 7);
  EXPECT_EQ(all.get<int>("failures"), 2);
  EXPECT_EQ(all.get<int>("errors"), 1);
  EXPECT_EQ(all.get<int>("skipped"), 2);
  EXPECT_EQ(all.get<std::string>("time"), "7.500");

  std::vector<std::string> suites;
  std::string failure, skipped, out, gate_failure;
  for (const auto& [tag, suite] : xml.get_child("testsuites")) {
    if (tag != "testsuite") continue;
    suites.push_back(suite.get<std::string>("<xmlattr>.name"));
    if (suites.back() == "gates") {
      for (const auto& [case_tag, c] : suite)
        if (case_tag == "testcase" && c.get_child_optional("failure"))
          gate_failure = c.get<std::string>("<xmlattr>.name") + ": " +
                         c.get<std::string>("failure.<xmlattr>.message");
      continue;
    }
    for (const auto& [case_tag, c] : suite) {
      if (case_tag != "testcase") continue;
      if (auto f = c.get_child_optional("failure"))
        failure = f->get<std::string>("<xmlattr>.message");
      if (auto s = c.get_child_optional("skipped"))
        skipped = s->get<std::string>("<xmlattr>.message");
      if (c.get<std::string>("<xmlattr>.name") == "benign [runc/block]") {
        out = c.get<std::string>("system-out");
        EXPECT_EQ(c.get<std::string>("<xmlattr>.classname"), "s<1>");
        EXPECT_EQ(c.get<int>("<xmlattr>.line"), 12);
      }
    }
  }
  EXPECT_EQ(suites, (std::vector<std::string>{"s<1>", "vm", "gates"}));
  EXPECT_EQ(gate_failure, "min_block_rate[runc]: 0.50 < 0.80 | see cases");
  EXPECT_EQ(failure, "verdict reached, expected blocked: because <exec-file-write> & \"so\" | on");
  EXPECT_EQ(skipped, "not run: because <os-system> & \"so\" | on");
  EXPECT_NE(out.find("- [objective] marker benign absent"), std::string::npos) << out;
}

TEST(Reports, MarkdownSummaryCountsNotRunAndErrorsAndEscapesCells) {
  const std::string md = summary_markdown(sample());
  // runc/block: 2 attacks (1 blocked, 1 reached), 1 benign allowed; rate 1/2.
  EXPECT_NE(
      md.find("| runc | block | 2 | 1 | 0 | 0 | 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0.50 | - | 0.00 |"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| cvm | block | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 0 | - | - | - |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| kata | block | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | - | - | - |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| **FAIL** | 0.50 < 0.80 \\| see cases |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **not evaluated** | not evaluated: nothing ran |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **reached** | blocked |"), std::string::npos) << "a miss is bold";
  EXPECT_NE(md.find("| not-run | blocked |"), std::string::npos) << "not-run is not a miss";
}

TEST(Reports, TerminalTableHasARowPerTargetAndModeAndNamesFailedGates) {
  const std::string table = summary_table(sample());
  std::istringstream lines(table);
  std::string header, line;
  std::getline(lines, header);
  for (const char* column :
       {"attacks", "blocked", "not_run", "error", "block_rate", "fp_rate", "prevented", "svc_lost"})
    EXPECT_NE(header.find(column), std::string::npos) << column;
  int rows = 0;
  while (std::getline(lines, line) && line.rfind("GATE", 0) != 0) ++rows;
  EXPECT_EQ(rows, 3);
  EXPECT_EQ(line, "GATE FAILED s<1> min_block_rate[runc]: 0.50 < 0.80 | see cases");
  std::getline(lines, line);
  EXPECT_EQ(line, "GATE NOT EVALUATED vm min_block_rate[cvm]: not evaluated: nothing ran");
}

TEST(Reports, WritesOnlyTheRequestedFormatsAndNoTemporaries) {
  const fs::path dir = fs::path(::testing::TempDir()) / "reports-test";
  fs::remove_all(dir);
  write_reports(sample(), dir, {"json", "markdown"});
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"results.json", "summary.md"}));
  std::ifstream in(dir / "results.json");
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["schema"], kResultsSchema);
  EXPECT_EQ(json["cases"].size(), 5u);
  fs::remove_all(dir);
}

TEST(Reports, MarkdownSetsConfigurationsSideBySideWithTheirIntervals) {
  RunResults r = sample();
  OverheadFigure f;
  f.scenario = "s<1>";
  f.target = "runc";
  f.mode = EnforcerMode::kBlock;
  f.against = "off";
  f.ratios = {{Statistic::kP50, {1.02, 0.99, 1.05}}, {Statistic::kP99, {1.1, 1.0, 1.3}}};
  f.cases = 2;
  f.samples = 64;
  f.control_samples = 64;
  f.timings = {{"model_load_ms", 210.0}, {"ready_ms", 1480.0}};
  r.overhead = {f};
  GateResult inconclusive{"s<1>", "max_overhead_p50.block[runc]", true, true, "straddles"};
  inconclusive.inconclusive = true;
  r.gates.push_back(inconclusive);
  const std::string md = summary_markdown(r);
  EXPECT_NE(md.find("## Configurations side by side"), std::string::npos) << md;
  EXPECT_NE(md.find(" | off | 1.020 [0.990, 1.050] | 1.100 [1.000, 1.300] | n/a | 2 | 64/64 | "
                    "210 | 1480 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| pass (inconclusive) |"), std::string::npos) << md;
  // The row carries the target's rates in that mode (block rate 1 of 2 valid).
  EXPECT_NE(md.find("| s<1> | runc | block | 0.50"), std::string::npos) << md;
  EXPECT_NE(summary_table(r).find("overhead s<1>/runc block: p50 x1.020 [95% CI 0.990, 1.050]"),
            std::string::npos)
      << summary_table(r);
}

}  // namespace
}  // namespace armorbench::reports
