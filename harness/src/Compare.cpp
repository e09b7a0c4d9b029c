// Comparing two results.json documents (Compare.h).
#include "armorbench/harness/Compare.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

using nlohmann::json;

// How strong a verdict is as a claim about the target; 0: no claim (invalid, error, not run).
int strength(const std::string& verdict) {
  if (verdict == "blocked" || verdict == "prevented" || verdict == "allowed") return 3;
  if (verdict == "detected") return 2;
  if (verdict == "reached" || verdict == "disrupted") return 1;
  return 0;
}

std::string key_of(const json& c) {
  return c.value("scenario", "") + "/" + c.value("case", "") + "[" + c.value("target", "") + "/" +
         c.value("enforcer_mode", "") + "]";
}

std::map<std::string, const json*> index(const json& results, const char* which) {
  if (!results.is_object() || !results.contains("cases") || !results["cases"].is_array() ||
      results.value("schema", 0) != 1)
    throw input_error(std::string(which) +
                      " is not an ArmorBench results.json (schema 1 with a cases array)");
  std::map<std::string, const json*> out;
  for (const json& c : results["cases"]) out[key_of(c)] = &c;
  return out;
}

std::vector<double> samples_of(const json& c) {
  std::vector<double> out;
  if (c.contains("latency") && c["latency"].is_object() && c["latency"].contains("samples_us"))
    for (const json& v : c["latency"]["samples_us"]) out.push_back(v.get<double>());
  return out;
}

std::string ratio_text(const Interval& i) {
  char text[96];
  std::snprintf(text, sizeof text, "%.3f [%.3f, %.3f]", i.estimate, i.low, i.high);
  return text;
}

}  // namespace

Comparison compare_results(const json& base, const json& now, const CompareOptions& options) {
  const auto before = index(base, "the base");
  const auto after = index(now, "the new run");
  Comparison out;
  out.max_slowdown = options.max_slowdown;
  for (const auto& [id, b] : before)
    if (!after.count(id)) out.removed.push_back(id);
  for (const auto& [id, n] : after) {
    const auto it = before.find(id);
    if (it == before.end()) {
      out.added.push_back(id);
      continue;
    }
    ++out.matched;
    const json& b = *it->second;
    const std::string was = b.value("verdict", ""), is = n->value("verdict", "");
    if (was != is) {
      VerdictChange change{id, was, is, false, ""};
      const int s0 = strength(was), s1 = strength(is);
      if (s0 > 0 && s1 < s0) {
        change.regression = true;
        change.why =
            s1 == 0 ? "the run no longer supports a verdict (" + is + ")" : "a weaker verdict";
      } else {
        change.why = s0 == 0 ? "now judged" : "a stronger verdict";
      }
      out.verdicts.push_back(change);
    }
    const std::vector<double> old_samples = samples_of(b), new_samples = samples_of(*n);
    if (old_samples.empty() || new_samples.empty()) continue;
    const auto ratio =
        bootstrap_ratio({{new_samples, old_samples}}, Statistic::kP50, options.bootstrap);
    if (!ratio) continue;
    LatencyChange change{id, *ratio, old_samples.size(), new_samples.size(), false, false};
    change.significant = ratio->low > 1 || ratio->high < 1;
    change.regression = ratio->against(options.max_slowdown) == Interval::Side::kAbove;
    out.latency.push_back(change);
  }
  return out;
}

bool Comparison::regression() const {
  return std::any_of(verdicts.begin(), verdicts.end(),
                     [](const VerdictChange& v) { return v.regression; }) ||
         std::any_of(latency.begin(), latency.end(),
                     [](const LatencyChange& l) { return l.regression; });
}

json Comparison::to_json() const {
  json v = json::array(), l = json::array();
  for (const VerdictChange& c : verdicts)
    v.push_back({{"id", c.id},
                 {"base", c.base},
                 {"new", c.now},
                 {"regression", c.regression},
                 {"why", c.why}});
  for (const LatencyChange& c : latency)
    l.push_back({{"id", c.id},
                 {"ratio_p50", c.ratio.to_json()},
                 {"base_samples", c.base_samples},
                 {"new_samples", c.new_samples},
                 {"significant", c.significant},
                 {"regression", c.regression}});
  return {{"regression", regression()},
          {"matched", matched},
          {"max_slowdown", max_slowdown},
          {"verdicts", v},
          {"latency", l},
          {"added", added},
          {"removed", removed}};
}

std::string Comparison::markdown() const {
  std::string md = "## ArmorBench: compare\n\n";
  const auto regressions = std::count_if(verdicts.begin(), verdicts.end(),
                                         [](const VerdictChange& v) { return v.regression; });
  const auto slower = std::count_if(latency.begin(), latency.end(),
                                    [](const LatencyChange& l) { return l.regression; });
  char slowdown[32];
  std::snprintf(slowdown, sizeof slowdown, "%.2fx", max_slowdown);
  md += regression() ? "**Regression**: " : "No regression: ";
  md += std::to_string(matched) + " case runs in both, " + std::to_string(verdicts.size()) +
        " verdict change(s) (" + std::to_string(regressions) + " weaker), " +
        std::to_string(slower) + " latency regression(s) (p50 interval above " + slowdown + "), " +
        std::to_string(added.size()) + " added, " + std::to_string(removed.size()) +
        " removed.\n\n";
  if (!verdicts.empty()) {
    md += "| case run | base | new | |\n|---|---|---|---|\n";
    for (const VerdictChange& v : verdicts)
      md += "| " + v.id + " | " + v.base + " | " + v.now + " | " +
            (v.regression ? "**regression**: " : "") + v.why + " |\n";
    md += "\n";
  }
  std::vector<const LatencyChange*> notable;
  for (const LatencyChange& l : latency)
    if (l.significant) notable.push_back(&l);
  if (!notable.empty()) {
    md +=
        "Latency changes whose 95% interval excludes 1 (p50, new/base, bootstrap over the raw "
        "samples):\n\n| case run | ratio [95% CI] | samples base/new | |\n|---|---|---|---|\n";
    for (const LatencyChange* l : notable)
      md += "| " + l->id + " | " + ratio_text(l->ratio) + " | " + std::to_string(l->base_samples) +
            "/" + std::to_string(l->new_samples) + " | " +
            (l->regression           ? "**regression**"
             : l->ratio.estimate < 1 ? "faster"
                                     : "slower") +
            " |\n";
    md += "\n";
  } else if (!latency.empty()) {
    md += "No latency change whose 95% interval excludes 1 (" + std::to_string(latency.size()) +
          " case runs with samples on both sides).\n\n";
  }
  const auto list = [&](const char* title, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    md += std::string(title) + ":\n";
    for (const std::string& id : ids) md += "- " + id + "\n";
    md += "\n";
  };
  list("Added", added);
  list("Removed", removed);
  return md;
}

}  // namespace armorbench
