// JUnit XML, Markdown summary and the terminal table.
#include "armorbench/reports/Reports.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "armorbench/base/XmlText.h"
#include "armorbench/reports/Bundle.h"
#include "armorbench/reports/Html.h"
#include "armorbench/reports/Oscal.h"
#include "armorbench/reports/Sarif.h"

namespace armorbench::reports {
namespace {

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string rate(const std::optional<double>& value) {
  if (!value) return "-";
  char text[16];
  std::snprintf(text, sizeof text, "%.2f", *value);
  return text;
}

std::string seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", s);
  return text;
}

std::string latency_cell(const CaseResult& c) {
  if (!c.latency || c.latency->count == 0) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.0f / %.0f", c.latency->p50_us, c.latency->p99_us);
  return text;
}

}  // namespace

const std::vector<std::string>& known_formats() {
  static const std::vector<std::string> formats{"json",  "junit", "markdown", "html",
                                                "sarif", "oscal", "intoto"};
  return formats;
}

std::string junit_xml(const RunResults& results) {
  std::map<std::string, std::vector<const CaseResult*>> by_scenario;
  std::vector<std::string> order;
  for (const CaseResult& c : results.cases) {
    if (!by_scenario.count(c.scenario)) order.push_back(c.scenario);
    by_scenario[c.scenario].push_back(&c);
  }
  int total = 0, failures = 0, errors = 0, skipped = 0;
  double time = 0;
  std::ostringstream suites;
  for (const std::string& scenario : order) {
    int s_failures = 0, s_errors = 0, s_skipped = 0;
    double s_time = 0;
    std::ostringstream cases;
    for (const CaseResult* c : by_scenario[scenario]) {
      s_time += c->duration_s;
      cases << "    <testcase name=\""
            << xml_escape(c->case_name + " [" + c->target + "/" + to_string(c->mode) + "]")
            << "\" classname=\"" << xml_escape(scenario) << "\" file=\""
            << xml_escape(c->scenario_file) << "\" line=\"" << c->where.line << "\" time=\""
            << seconds(c->duration_s) << "\">\n";
      const std::string message = "verdict " + to_string(c->verdict) + ", expected " +
                                  to_string(c->expected) + ": " + c->reason;
      if (c->verdict == Verdict::kNotRun) {
        ++s_skipped;
        cases << "      <skipped message=\"" << xml_escape("not run: " + c->reason) << "\"/>\n";
      } else if (c->verdict == Verdict::kError) {
        ++s_errors;
        cases << "      <error message=\"" << xml_escape(c->reason) << "\" type=\"error\"/>\n";
      } else if (!c->passed()) {
        ++s_failures;
        cases << "      <failure message=\"" << xml_escape(message) << "\" type=\""
              << to_string(c->verdict) << "\"/>\n";
      }
      std::ostringstream out;
      out << "verdict: " << to_string(c->verdict) << "\nreason: " << c->reason << "\n";
      for (const Evidence& e : c->evidence) out << "- [" << e.kind << "] " << e.summary << "\n";
      cases << "      <system-out>" << xml_escape(out.str()) << "</system-out>\n"
            << "    </testcase>\n";
    }
    const int s_total = static_cast<int>(by_scenario[scenario].size());
    suites << "  <testsuite name=\"" << xml_escape(scenario) << "\" tests=\"" << s_total
           << "\" failures=\"" << s_failures << "\" errors=\"" << s_errors << "\" skipped=\""
           << s_skipped << "\" time=\"" << seconds(s_time) << "\">\n"
           << cases.str() << "  </testsuite>\n";
    total += s_total;
    failures += s_failures;
    errors += s_errors;
    skipped += s_skipped;
    time += s_time;
  }
  // The gates as a suite of their own, so a CI's test view shows a failed or inconclusive gate
  // (an overhead over its threshold, a baseline regression) next to the case runs.
  if (!results.gates.empty()) {
    int g_failures = 0, g_skipped = 0;
    std::ostringstream cases;
    for (const GateResult& g : results.gates) {
      cases << "    <testcase name=\"" << xml_escape(g.gate) << "\" classname=\""
            << xml_escape(g.scenario.empty() ? "run" : g.scenario) << "\" time=\"0.000\">\n";
      if (!g.passed) {
        ++g_failures;
        cases << "      <failure message=\"" << xml_escape(g.detail) << "\" type=\"gate\"/>\n";
      } else if (!g.evaluated) {
        ++g_skipped;
        cases << "      <skipped message=\"" << xml_escape(g.detail) << "\"/>\n";
      } else {
        cases << "      <system-out>" << xml_escape(g.detail) << "</system-out>\n";
      }
      cases << "    </testcase>\n";
    }
    const int g_total = static_cast<int>(results.gates.size());
    suites << "  <testsuite name=\"gates\" tests=\"" << g_total << "\" failures=\"" << g_failures
           << "\" errors=\"0\" skipped=\"" << g_skipped << "\" time=\"0.000\">\n"
           << cases.str() << "  </testsuite>\n";
    total += g_total;
    failures += g_failures;
    skipped += g_skipped;
  }
  std::ostringstream xml;
  xml << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"armorbench\" tests=\"" << total << "\" failures=\"" << failures
      << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\" time=\"" << seconds(time)
      << "\">\n"
      << suites.str() << "</testsuites>\n";
  return xml.str();
}

std::string summary_table(const RunResults& results) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line,
                "%-14s %-6s %7s %7s %9s %7s %7s %9s %7s %7s %7s %7s %10s %10s %8s\n", "target",
                "mode", "attacks", "blocked", "svc_lost", "detect", "reached", "prevented",
                "invalid", "benign", "not_run", "error", "block_rate", "detect_rt", "fp_rate");
  out << line;
  for (const ModeSummary& s : results.summary) {
    std::snprintf(line, sizeof line,
                  "%-14s %-6s %7d %7d %9d %7d %7d %9d %7d %7d %7d %7d %10s %10s %8s\n",
                  s.target.c_str(), to_string(s.mode).c_str(), s.attacks, s.blocked,
                  s.blocked_service_lost, s.detected, s.reached, s.prevented, s.invalid, s.benign,
                  s.not_run, s.errors, rate(s.block_rate).c_str(), rate(s.detection_rate).c_str(),
                  rate(s.false_positive_rate).c_str());
    out << line;
  }
  for (const GateResult& g : results.gates)
    if (!g.passed || !g.evaluated)
      out << (g.passed ? "GATE NOT EVALUATED " : "GATE FAILED ") << g.scenario << " " << g.gate
          << ": " << g.detail << "\n";
  for (const OverheadFigure& f : results.overhead) {
    const Interval* p50 = f.ratio(Statistic::kP50);
    if (!p50 || f.against != "off") continue;
    std::snprintf(line, sizeof line,
                  "overhead %s/%s %s: p50 x%.3f [95%% CI %.3f, %.3f], %d case(s), %zu samples\n",
                  f.scenario.c_str(), f.target.c_str(), to_string(f.mode).c_str(), p50->estimate,
                  p50->low, p50->high, f.cases, f.samples);
    out << line;
  }
  for (const TimeBreakdown& b : results.time) {
    if (b.target_kind != "all") continue;
    std::snprintf(line, sizeof line,
                  "time: %d case runs, %.1f s, median %.2f s a run; harness share %.1f%%; "
                  "enforcer loaded %d time(s), %.1f s\n",
                  b.runs, b.seconds, b.median_run_s, 100 * b.harness_share, b.enforcer_loads,
                  b.enforcer_load_s);
    out << line;
  }
  return out.str();
}

std::string summary_markdown(const RunResults& results) {
  std::ostringstream md;
  md << "# ArmorBench results\n\n"
     << "Run `" << results.run.value("id", "") << "`, " << results.run.value("started", "")
     << " to " << results.run.value("finished", "") << ", exit code "
     << static_cast<int>(results.exit_code) << ".\n\n## Summary per target and enforcer mode\n\n"
     << "| target | mode | attacks | blocked | blocked, service lost | detected | reached | "
        "prevented | invalid | benign | disrupted | not run | error | block rate | detection rate "
        "| false-positive rate |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const ModeSummary& s : results.summary)
    md << "| " << s.target << " | " << to_string(s.mode) << " | " << s.attacks << " | " << s.blocked
       << " | " << s.blocked_service_lost << " | " << s.detected << " | " << s.reached << " | "
       << s.prevented << " | " << s.invalid << " | " << s.benign << " | " << s.disrupted << " | "
       << s.not_run << " | " << s.errors << " | " << rate(s.block_rate) << " | "
       << rate(s.detection_rate) << " | " << rate(s.false_positive_rate) << " |\n";
  if (!results.overhead.empty()) {
    md << "\n## Configurations side by side: benign inference latency\n\n"
       << "Ratios of the statistic over what the row is judged against, with bootstrap 95% "
          "intervals over the raw per-request samples (each benign case a stratum); timings are "
          "medians over the target's benign runs in that mode.\n\n"
       << "| scenario | target | mode | block rate | detection rate | false-positive rate | "
          "against | p50 ratio [95% CI] | p99 ratio [95% CI] | mean ratio [95% CI] | cases | "
          "samples | model load ms | ready ms |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    const auto summary_of = [&](const OverheadFigure& f) -> const ModeSummary* {
      for (const ModeSummary& s : results.summary)
        if (s.target == f.target && s.mode == f.mode) return &s;
      return nullptr;
    };
    const auto cell = [](const OverheadFigure& f, Statistic s) {
      const Interval* i = f.ratio(s);
      if (!i) return std::string("n/a");
      char text[64];
      std::snprintf(text, sizeof text, "%.3f [%.3f, %.3f]", i->estimate, i->low, i->high);
      return std::string(text);
    };
    const auto timing = [](const OverheadFigure& f, const char* key) {
      if (!f.timings.contains(key)) return std::string("n/a");
      char text[32];
      std::snprintf(text, sizeof text, "%.0f", f.timings[key].get<double>());
      return std::string(text);
    };
    for (const OverheadFigure& f : results.overhead)
      md << "| " << f.scenario << " | " << f.target << " | " << to_string(f.mode) << " | "
         << (summary_of(f) ? rate(summary_of(f)->block_rate) : "n/a") << " | "
         << (summary_of(f) ? rate(summary_of(f)->detection_rate) : "n/a") << " | "
         << (summary_of(f) ? rate(summary_of(f)->false_positive_rate) : "n/a") << " | " << f.against
         << " | " << cell(f, Statistic::kP50) << " | " << cell(f, Statistic::kP99) << " | "
         << cell(f, Statistic::kMean) << " | " << f.cases << " | " << f.samples << "/"
         << f.control_samples << " | " << timing(f, "model_load_ms") << " | "
         << timing(f, "ready_ms") << " |\n";
  }
  if (!results.time.empty()) {
    md << "\n## Where the time went\n\n"
       << "Seconds summed over the case runs of each target kind (share of its runs' time); "
          "the harness's own share is prepare, launch (the runtime's create or the VM's boot, "
          "the enforcer's load and scope), stop and other (scoring, evidence, clean-up).\n\n"
       << "| target | runs | seconds | median run s | prepare | launch | server start | "
          "requests | attack | stop | other | harness share | enforcer loads (s) |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const TimeBreakdown& b : results.time) {
      char text[96];
      md << "| " << b.target_kind << " | " << b.runs << " | ";
      std::snprintf(text, sizeof text, "%.1f | %.2f | ", b.seconds, b.median_run_s);
      md << text;
      for (const TimeBreakdown::Phase& p : b.phases) {
        std::snprintf(text, sizeof text, "%.1f (%.0f%%) | ", p.seconds,
                      b.seconds > 0 ? 100 * p.seconds / b.seconds : 0.0);
        md << text;
      }
      std::snprintf(text, sizeof text, "%.1f%% | %d (%.1f) |\n", 100 * b.harness_share,
                    b.enforcer_loads, b.enforcer_load_s);
      md << text;
    }
  }
  md << "\n## Gates\n\n| scenario | gate | result | detail |\n|---|---|---|---|\n";
  for (const GateResult& g : results.gates)
    md << "| " << g.scenario << " | " << g.gate << " | "
       << (!g.passed        ? "**FAIL**"
           : !g.evaluated   ? "**not evaluated**"
           : g.inconclusive ? "pass (inconclusive)"
                            : "pass")
       << " | " << markdown_cell(g.detail) << " |\n";
  md << "\n## Cases\n\n| case | target | mode | verdict | expected | backend | p50/p99 us | reason "
        "|\n|---|---|---|---|---|---|---|---|\n";
  for (const CaseResult& c : results.cases) {
    // A miss is bold; not-run is neither a pass nor a miss.
    const char* mark = c.passed() || c.verdict == Verdict::kNotRun ? "" : "**";
    md << "| " << c.scenario << "/" << c.case_name << " | " << c.target << " | "
       << to_string(c.mode) << " | " << mark << to_string(c.verdict) << mark << " | "
       << to_string(c.expected) << " | " << c.enforcer.value("backend", "") << " | "
       << latency_cell(c) << " | " << markdown_cell(c.reason) << " |\n";
  }
  return md.str();
}

void write_reports(const RunResults& results, const std::filesystem::path& out_dir,
                   const std::vector<std::string>& formats) {
  std::filesystem::create_directories(out_dir);
  auto wants = [&](const std::string& format) {
    return std::find(formats.begin(), formats.end(), format) != formats.end();
  };
  const nlohmann::json document = results.to_json();
  if (wants("json")) write_file_atomically(out_dir / "results.json", document.dump(2) + "\n");
  if (wants("junit")) write_file_atomically(out_dir / "junit.xml", junit_xml(results));
  if (wants("markdown")) write_file_atomically(out_dir / "summary.md", summary_markdown(results));
  std::vector<std::string> rendered;
  for (const std::string& format : formats)
    if (std::find(document_formats().begin(), document_formats().end(), format) !=
        document_formats().end())
      rendered.push_back(format);
  write_document_reports(document, out_dir, rendered);
}

const std::vector<std::string>& document_formats() {
  static const std::vector<std::string> formats{"html", "sarif", "oscal", "intoto"};
  return formats;
}

std::string report_file_name(const std::string& format) {
  static const std::map<std::string, std::string> names{
      {"json", "results.json"},  {"junit", "junit.xml"},     {"markdown", "summary.md"},
      {"html", "report.html"},   {"sarif", "results.sarif"}, {"oscal", "assessment-results.json"},
      {"intoto", kStatementFile}};
  const auto it = names.find(format);
  return it == names.end() ? format : it->second;
}

void write_document_reports(const nlohmann::json& results, const std::filesystem::path& out_dir,
                            const std::vector<std::string>& formats) {
  namespace fs = std::filesystem;
  fs::create_directories(out_dir);
  auto wants = [&](const std::string& format) {
    return std::find(formats.begin(), formats.end(), format) != formats.end();
  };
  if (wants("html"))
    write_file_atomically(out_dir / report_file_name("html"), html_report(results));
  if (wants("sarif"))
    write_file_atomically(out_dir / report_file_name("sarif"), sarif_log(results).dump(2) + "\n");
  if (wants("oscal"))
    write_file_atomically(out_dir / report_file_name("oscal"),
                          oscal_assessment_results(results).dump(2) + "\n");
  if (wants("intoto")) {
    // Subjects: what this directory holds of the run (the statement itself excepted);
    // configuration: the run's scenario and policy files where they can be read from here.
    std::vector<fs::path> subjects;
    for (const std::string& format : known_formats())
      if (format != "intoto" && fs::is_regular_file(out_dir / report_file_name(format)))
        subjects.push_back(out_dir / report_file_name(format));
    if (fs::is_regular_file(out_dir / "results.jsonl"))
      subjects.push_back(out_dir / "results.jsonl");
    // This run's event logs (named after its run id; an earlier run's stay out).
    const std::string run_id = results.value("run", nlohmann::json::object()).value("id", "");
    if (fs::is_directory(out_dir / "events") && !run_id.empty())
      for (const auto& entry : fs::recursive_directory_iterator(out_dir / "events"))
        if (entry.is_regular_file() &&
            entry.path().filename().string().find("-" + run_id + "-") != std::string::npos)
          subjects.push_back(entry.path());
    std::sort(subjects.begin(), subjects.end());
    std::vector<fs::path> configuration;
    for (const nlohmann::json& s : results.value("scenarios", nlohmann::json::array())) {
      std::vector<std::string> files{s.value("file", "")};
      for (const nlohmann::json& p : s.value("policies", nlohmann::json::array()))
        if (p.is_string()) files.push_back(p.get<std::string>());
      for (const std::string& file : files)
        if (!file.empty() && fs::is_regular_file(file) &&
            std::find(configuration.begin(), configuration.end(), fs::path(file)) ==
                configuration.end())
          configuration.push_back(file);
    }
    write_file_atomically(
        out_dir / kStatementFile,
        intoto_statement(results, out_dir, subjects, configuration).dump(2) + "\n");
  }
}

}  // namespace armorbench::reports
