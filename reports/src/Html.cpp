// The HTML report: one self-contained file rendered from results.json. No script, no external
// resource: styles inline, charts inline SVG (Svg.h), the evidence of every case run an anchor
// away from its cell in the verdict grid.
#include "armorbench/reports/Html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "Svg.h"
#include "armorbench/base/XmlText.h"

namespace armorbench::reports {
namespace {

using nlohmann::json;

std::string esc(const std::string& text) {
  return xml_escape(text);
}

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// A boolean field; `fallback` when absent or null (results.json writes `passed: null` for not-run).
bool flag(const json& j, const char* key, bool fallback) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}

std::string fixed(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// What a verdict looks like in the grid: a CSS class (its color) and a letter, so the grid reads
// without color too.
struct VerdictStyle {
  const char* css;
  const char* letter;
  const char* meaning;
};
VerdictStyle verdict_style(const std::string& verdict) {
  static const std::map<std::string, VerdictStyle> styles{
      {"blocked",
       {"v-blocked", "B", "the enforcer or kernel refused the operation; objective not reached"}},
      {"prevented",
       {"v-prevented", "P", "the target's isolation stopped it; objective not reached"}},
      {"detected", {"v-detected", "D", "reached, and the enforcer recorded the operation"}},
      {"reached", {"v-reached", "R", "the attack reached its objective"}},
      {"allowed", {"v-allowed", "A", "benign workload served correctly"}},
      {"disrupted", {"v-disrupted", "X", "benign workload disrupted (a false positive)"}},
      {"invalid",
       {"v-invalid", "I", "no verdict can be defended (e.g. the control did not reach)"}},
      {"error", {"v-error", "E", "the harness or target failed"}},
      {"not-run", {"v-not-run", "-", "the target cannot run on this host"}},
  };
  const auto it = styles.find(verdict);
  return it == styles.end() ? VerdictStyle{"v-error", "?", "unknown verdict"} : it->second;
}

const char* mode_color(const std::string& mode) {
  if (mode == "block") return "#3a6ea5";
  if (mode == "audit") return "#e09a2b";
  return "#7d8797";
}

std::string case_label(const json& c) {
  return str(c, "scenario") + "/" + str(c, "case") + " [" + str(c, "target") + "/" +
         str(c, "enforcer_mode") + "]";
}

std::string anchor(std::size_t index) {
  return "run-" + std::to_string(index);
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return quantile(values, 0.5);
}

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 24px 48px;color:#1d2330;max-width:1200px}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}nav a{margin-right:14px}
table{border-collapse:collapse;margin:6px 0;display:block;overflow-x:auto;max-width:100%}th,td{border:1px solid #d5d9e0;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f4f7;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.grid td.cell{width:26px;height:22px;text-align:center;font-weight:700;padding:0}
.grid td.cell a{display:block;color:inherit;text-decoration:none;line-height:22px}
.grid td.miss{outline:3px solid #111;outline-offset:-3px}
.v-blocked{background:#2e7d32;color:#fff}.v-prevented{background:#00796b;color:#fff}
.v-detected{background:#f4b400;color:#111}.v-reached{background:#c62828;color:#fff}
.v-allowed{background:#a5d6a7;color:#111}.v-disrupted{background:#ef6c00;color:#fff}
.v-invalid{background:#7b1fa2;color:#fff}.v-error{background:#263238;color:#fff}
.v-not-run{background:#cfd4da;color:#333}
.legend span{display:inline-block;padding:1px 8px;margin:2px 6px 2px 0;border-radius:3px}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}.muted{color:#667}
.run{border:1px solid #d5d9e0;border-left-width:8px;margin:10px 0;padding:4px 12px}
.run:target{box-shadow:0 0 0 3px #3a6ea5}
.run h3 .badge{padding:1px 8px;border-radius:3px;margin-left:6px}
pre{background:#f6f8fa;padding:6px;overflow:auto;max-height:320px;font-size:12px}
svg.chart{display:block;margin:8px 0 16px;font-size:12px}
.chart-title{font-weight:600;font-size:13px}.chart-label{fill:#1d2330}.tick{fill:#556;font-size:11px}
.grid line,line.grid{stroke:#e3e6eb}line.reference{stroke:#c62828;stroke-dasharray:4 3}
)";

class HtmlReport {
 public:
  explicit HtmlReport(const json& results)
      : results_(results), cases_(results.value("cases", json::array())) {}

  std::string render() {
    const json& run = results_.value("run", json::object());
    out_ << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         << "<meta name=\"viewport\" content=\"width=device-width\">"
         << "<title>ArmorBench run " << esc(str(run, "id")) << "</title><style>" << kStyle
         << "</style></head><body>\n";
    header(run);
    verdict_grid();
    rates();
    latency();
    overhead();
    startup();
    gates();
    host();
    case_runs();
    out_ << "</body></html>\n";
    return out_.str();
  }

 private:
  void header(const json& run) {
    const json& summary = results_.value("summary", json::object());
    const int exit_code = summary.value("exit_code", -1);
    static const std::map<int, std::string> meaning{{0, "every gate passed"},
                                                    {1, "a gate or an expectation failed"},
                                                    {2, "a case run ended in error"},
                                                    {3, "nothing could be evaluated on this host"},
                                                    {4, "invalid input"},
                                                    {130, "interrupted"}};
    const auto it = meaning.find(exit_code);
    out_ << "<h1>ArmorBench run " << esc(str(run, "id")) << "</h1><p>"
         << "<span class=\"" << (exit_code == 0 ? "pass" : "fail") << "\">exit code " << exit_code
         << (it != meaning.end() ? ": " + it->second : "") << "</span> &middot; " << cases_.size()
         << " case runs &middot; started " << esc(str(run, "started")) << ", finished "
         << esc(str(run, "finished")) << " &middot; "
         << esc(str(run.value("tool", json::object()), "name")) << " "
         << esc(str(run.value("tool", json::object()), "version")) << "</p>\n"
         << "<p class=\"muted\">Rendered from results.json, the canonical record; every number "
            "here is in it. A verdict is what was observed: <i>blocked</i> needs the objective "
            "unreached, a recorded denial of the operation the attack needed, and the same attack "
            "reaching its objective in the positive control.</p>\n"
         << "<nav><a href=\"#verdicts\">Verdicts</a><a href=\"#rates\">Rates</a>"
         << "<a href=\"#latency\">Latency</a><a href=\"#overhead\">Overhead</a>"
         << "<a href=\"#startup\">Start and boot</a><a href=\"#gates\">Gates</a>"
         << "<a href=\"#host\">Host</a><a href=\"#runs\">Case runs</a></nav>\n";
  }

  void verdict_grid() {
    out_ << "<h2 id=\"verdicts\">Verdicts: case &times; target &times; enforcer mode</h2>"
         << "<p class=\"legend\">";
    for (const char* v : {"blocked", "prevented", "detected", "reached", "allowed", "disrupted",
                          "invalid", "error", "not-run"}) {
      const VerdictStyle s = verdict_style(v);
      out_ << "<span class=\"" << s.css << "\" title=\"" << esc(s.meaning) << "\">" << s.letter
           << " " << v << "</span>";
    }
    out_ << "<span class=\"miss\" style=\"outline:3px solid #111\">framed: not what the scenario "
            "expected</span></p><p class=\"muted\">Each cell links to the evidence of that case "
            "run (the denial, the objective, the control run).</p>\n";
    std::vector<std::string> scenarios;
    for (const json& c : cases_)
      if (std::find(scenarios.begin(), scenarios.end(), str(c, "scenario")) == scenarios.end())
        scenarios.push_back(str(c, "scenario"));
    for (const std::string& scenario : scenarios) {
      std::vector<std::pair<std::string, std::string>> columns;  // target, mode
      std::vector<std::string> rows;
      std::map<std::tuple<std::string, std::string, std::string>, std::size_t> at;
      for (std::size_t i = 0; i < cases_.size(); ++i) {
        const json& c = cases_[i];
        if (str(c, "scenario") != scenario) continue;
        const std::pair<std::string, std::string> column{str(c, "target"), str(c, "enforcer_mode")};
        if (std::find(columns.begin(), columns.end(), column) == columns.end())
          columns.push_back(column);
        if (std::find(rows.begin(), rows.end(), str(c, "case")) == rows.end())
          rows.push_back(str(c, "case"));
        at[{str(c, "case"), column.first, column.second}] = i;
      }
      out_ << "<h3>" << esc(scenario)
           << "</h3><table class=\"grid\"><tr><th rowspan=\"2\">case</th>";
      std::vector<std::pair<std::string, int>> targets;
      for (const auto& [target, mode] : columns) {
        if (targets.empty() || targets.back().first != target) targets.emplace_back(target, 0);
        ++targets.back().second;
      }
      for (const auto& [target, span] : targets)
        out_ << "<th colspan=\"" << span << "\">" << esc(target) << "</th>";
      out_ << "</tr><tr>";
      for (const auto& column : columns)
        out_ << "<th title=\"" << esc(column.second) << "\">" << esc(column.second.substr(0, 5))
             << "</th>";
      out_ << "</tr>\n";
      for (const std::string& row : rows) {
        out_ << "<tr><td>" << esc(row) << "</td>";
        for (const auto& [target, mode] : columns) {
          const auto it = at.find({row, target, mode});
          if (it == at.end()) {
            out_ << "<td></td>";
            continue;
          }
          const json& c = cases_[it->second];
          const VerdictStyle s = verdict_style(str(c, "verdict"));
          const bool miss = str(c, "verdict") != "not-run" && !flag(c, "passed", true);
          out_ << "<td class=\"cell " << s.css << (miss ? " miss" : "") << "\" data-run=\""
               << it->second << "\"><a href=\"#" << anchor(it->second) << "\" title=\""
               << esc(case_label(c) + ": " + str(c, "verdict") + " (expected " +
                      str(c, "expected") + "). " + str(c, "reason"))
               << "\">" << s.letter << "</a></td>";
        }
        out_ << "</tr>\n";
      }
      out_ << "</table>\n";
    }
  }

  static std::string rate_text(const json& value) {
    return value.is_number() ? fixed(value.get<double>(), 2) : "&ndash;";
  }

  void rates() {
    const json summary =
        results_.value("summary", json::object()).value("by_target_mode", json::array());
    out_ << "<h2 id=\"rates\">Block, detection and false-positive rates per configuration</h2>"
         << "<p class=\"muted\">Rates count valid case runs only: <i>invalid</i>, <i>error</i>, "
            "<i>not-run</i> and <i>prevented</i> (the target's isolation, not enforcement) are "
            "outside them. Block rate: blocked / (blocked + detected + reached) in block mode; "
            "detection rate: runs the enforcer recorded in audit mode; false-positive rate: "
            "disrupted / benign.</p>"
         << "<table><tr><th>target</th><th>mode</th><th>attacks</th><th>blocked</th>"
            "<th>prevented</th><th>detected</th><th>reached</th><th>invalid</th><th>benign "
            "allowed</th><th>disrupted</th><th>not run</th><th>errors</th><th>block rate</th>"
            "<th>detection rate</th><th>false-positive rate</th></tr>\n";
    std::vector<svg::Bar> bars;
    for (const json& s : summary) {
      const json counts = s.value("counts", json::object());
      out_ << "<tr><td>" << esc(str(s, "target")) << "</td><td>" << esc(str(s, "enforcer_mode"))
           << "</td>";
      for (const char* key : {"attacks", "blocked", "prevented", "detected", "reached", "invalid",
                              "allowed", "disrupted", "not_run", "error"})
        out_ << "<td class=\"num\">" << counts.value(key, 0) << "</td>";
      out_ << "<td class=\"num\">" << rate_text(s.value("block_rate", json())) << "</td>"
           << "<td class=\"num\">" << rate_text(s.value("detection_rate", json())) << "</td>"
           << "<td class=\"num\">" << rate_text(s.value("false_positive_rate", json()))
           << "</td></tr>\n";
      const std::string config = str(s, "target") + " · " + str(s, "enforcer_mode");
      for (const auto& [key, name, color] :
           std::vector<std::tuple<const char*, const char*, const char*>>{
               {"block_rate", "block rate", "#1e88e5"},
               {"detection_rate", "detection rate", "#fbc02d"},
               {"false_positive_rate", "false positives", "#d81b60"}}) {
        const json value = s.value(key, json());
        if (!value.is_number()) continue;
        bars.push_back({config + " " + name, color, value.get<double>(), 0, 0, false,
                        fixed(value.get<double>(), 2)});
      }
    }
    out_ << "</table>\n";
    if (!bars.empty()) out_ << svg::bar_chart(bars, "rate", "Rates per configuration", 1.0);
  }

  void latency() {
    out_ << "<h2 id=\"latency\">Benign inference latency per target and mode</h2>"
         << "<p class=\"muted\">Every request of every benign case run, client side, pooled per "
            "target and enforcer mode: whiskers p1 to p99, box p25 to p75, median marked and "
            "printed. Log scale.</p>";
    std::vector<std::pair<std::string, std::string>> order;
    std::map<std::pair<std::string, std::string>, std::vector<double>> samples;
    for (const json& c : cases_) {
      if (!c.value("attack", json()).is_null()) continue;
      const json latency = c.value("latency", json());
      if (!latency.is_object()) continue;
      const std::pair<std::string, std::string> key{str(c, "target"), str(c, "enforcer_mode")};
      if (!samples.count(key)) order.push_back(key);
      auto& into = samples[key];
      for (const json& s : latency.value("samples_us", json::array()))
        if (s.is_number()) into.push_back(s.get<double>() / 1000.0);
    }
    std::vector<svg::Box> boxes;
    for (const auto& key : order) {
      std::vector<double>& v = samples[key];
      if (v.empty()) continue;
      std::sort(v.begin(), v.end());
      boxes.push_back({key.first + " · " + key.second, mode_color(key.second), quantile(v, 0.01),
                       quantile(v, 0.25), quantile(v, 0.5), quantile(v, 0.75), quantile(v, 0.99),
                       v.size()});
    }
    if (boxes.empty()) {
      out_ << "<p>No benign case run served requests.</p>";
      return;
    }
    out_ << svg::box_plot(boxes, "ms", "Request latency (ms)");
  }

  void overhead() {
    const json figures = results_.value("summary", json::object()).value("overhead", json::array());
    out_ << "<h2 id=\"overhead\">Overhead ratios with 95% intervals</h2>"
         << "<p class=\"muted\">Median (p50) latency of the benign cases as a ratio to what each "
            "is judged against (the same target with the enforcer off, or the scenario's first "
            "target in the same mode); bootstrap 95% interval. The dashed line is 1 (no "
            "overhead).</p>";
    std::vector<svg::Bar> rows;
    out_ << "<table><tr><th>scenario</th><th>target</th><th>mode</th><th>against</th>"
            "<th>p50 ratio</th><th>p99 ratio</th><th>cases</th><th>samples</th></tr>\n";
    for (const json& f : figures) {
      const json p50 = f.value("ratio_p50", json());
      const json p99 = f.value("ratio_p99", json());
      const auto interval = [](const json& r) {
        if (!r.is_object() || !r.value("estimate", json()).is_number())
          return std::string("&ndash;");
        return "&times;" + fixed(r.value("estimate", 0.0), 3) + " [" +
               fixed(r.value("low", 0.0), 3) + ", " + fixed(r.value("high", 0.0), 3) + "]";
      };
      out_ << "<tr><td>" << esc(str(f, "scenario")) << "</td><td>" << esc(str(f, "target"))
           << "</td><td>" << esc(str(f, "enforcer_mode")) << "</td><td>" << esc(str(f, "against"))
           << "</td><td class=\"num\">" << interval(p50) << "</td><td class=\"num\">"
           << interval(p99) << "</td><td class=\"num\">" << f.value("cases", 0)
           << "</td><td class=\"num\">" << f.value("samples", 0) << "</td></tr>\n";
      if (p50.is_object() && p50.value("estimate", json()).is_number())
        rows.push_back({str(f, "scenario") + " · " + str(f, "target") + " " +
                            str(f, "enforcer_mode") + " vs " + str(f, "against"),
                        mode_color(str(f, "enforcer_mode")), p50.value("estimate", 1.0),
                        p50.value("low", 1.0), p50.value("high", 1.0), true,
                        "x" + fixed(p50.value("estimate", 1.0), 3)});
    }
    out_ << "</table>\n";
    if (!rows.empty())
      out_ << svg::forest_plot(rows, 1.0, "ratio", "p50 latency ratio (log scale)");
  }

  void startup() {
    out_ << "<h2 id=\"startup\">Start and boot times per target</h2>"
         << "<p class=\"muted\">Medians over every case run of the target, with the range "
            "(min to max): the runtime's create, the VM's domain create and boot, and the model "
            "server's start to ready.</p>";
    std::vector<std::string> targets;
    std::map<std::string, std::map<std::string, std::vector<double>>> by_target;
    for (const json& c : cases_) {
      const json timings = c.value("timings", json::object());
      if (!timings.is_object()) continue;
      const std::string target = str(c, "target");
      for (const char* key : {"create_ms", "domain_create_ms", "boot_ms", "ready_ms"})
        if (timings.contains(key) && timings[key].is_number()) {
          if (!by_target.count(target)) targets.push_back(target);
          by_target[target][key].push_back(timings[key].get<double>());
        }
    }
    std::vector<svg::Bar> bars;
    out_ << "<table><tr><th>target</th><th>step</th><th>runs</th><th>median ms</th>"
            "<th>min</th><th>max</th></tr>\n";
    static const std::map<std::string, std::pair<const char*, const char*>> steps{
        {"create_ms", {"runtime create", "#5c6bc0"}},
        {"domain_create_ms", {"domain create", "#8e24aa"}},
        {"boot_ms", {"guest boot", "#00897b"}},
        {"ready_ms", {"server ready", "#6d4c41"}}};
    for (const std::string& target : targets)
      for (const char* key : {"create_ms", "domain_create_ms", "boot_ms", "ready_ms"}) {
        const auto it = by_target[target].find(key);
        if (it == by_target[target].end()) continue;
        const std::vector<double>& v = it->second;
        const double med = median(v);
        const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        out_ << "<tr><td>" << esc(target) << "</td><td>" << steps.at(key).first
             << "</td><td class=\"num\">" << v.size() << "</td><td class=\"num\">" << fixed(med, 0)
             << "</td><td class=\"num\">" << fixed(*lo, 0) << "</td><td class=\"num\">"
             << fixed(*hi, 0) << "</td></tr>\n";
        bars.push_back({target + " · " + steps.at(key).first, steps.at(key).second, med / 1000,
                        *lo / 1000, *hi / 1000, true, fixed(med / 1000, 2) + " s"});
      }
    out_ << "</table>\n";
    // Steps span milliseconds (a runtime's create) to minutes (a guest boot under emulation): a
    // log axis, medians as points, ranges as lines.
    if (!bars.empty())
      out_ << svg::forest_plot(bars, 0, "seconds (log scale)", "Start and boot (median, range)");
  }

  void gates() {
    const json list = results_.value("summary", json::object()).value("gates", json::array());
    out_ << "<h2 id=\"gates\">Gates</h2><table><tr><th>scenario</th><th>gate</th>"
            "<th>result</th><th>detail</th></tr>\n";
    for (const json& g : list) {
      const bool evaluated = flag(g, "evaluated", true);
      const bool passed = flag(g, "passed", false);
      out_ << "<tr><td>" << esc(str(g, "scenario")) << "</td><td>" << esc(str(g, "gate"))
           << "</td><td class=\""
           << (!evaluated ? "muted"
               : passed   ? "pass"
                          : "fail")
           << "\">"
           << (!evaluated ? "not evaluated"
               : passed   ? "passed"
                          : "FAILED")
           << (flag(g, "inconclusive", false) ? " (inconclusive)" : "") << "</td><td>"
           << esc(str(g, "detail")) << "</td></tr>\n";
    }
    out_ << "</table>\n";
  }

  void host() {
    out_ << "<h2 id=\"host\">Host and enforcer</h2><h3>Enforcer backend per target</h3>"
         << "<table><tr><th>target</th><th>kind</th><th>mode</th><th>backend</th>"
            "<th>where it ran</th><th>case runs</th></tr>\n";
    std::map<std::tuple<std::string, std::string, std::string, std::string, std::string>, int> seen;
    std::vector<std::tuple<std::string, std::string, std::string, std::string, std::string>> order;
    for (const json& c : cases_) {
      const json e = c.value("enforcer", json::object());
      const auto key =
          std::make_tuple(str(c, "target"), str(c, "target_kind"), str(c, "enforcer_mode"),
                          str(e, "backend"), str(e, "location"));
      if (!seen.count(key)) order.push_back(key);
      ++seen[key];
    }
    for (const auto& key : order) {
      const auto& [target, kind, mode, backend, location] = key;
      out_ << "<tr><td>" << esc(target) << "</td><td>" << esc(kind) << "</td><td>" << esc(mode)
           << "</td><td>" << (backend.empty() ? "none" : esc(backend)) << "</td><td>"
           << esc(location) << "</td><td class=\"num\">" << seen[key] << "</td></tr>\n";
    }
    out_ << "</table><h3>Host facts</h3><table>\n";
    const json host = results_.value("host", json::object());
    for (auto it = host.begin(); it != host.end(); ++it) {
      out_ << "<tr><th>" << esc(it.key()) << "</th><td>";
      if (it->is_object() && it->contains("ok") && it->contains("detail"))  // a doctor probe
        out_ << "<span class=\"" << (flag(*it, "ok", false) ? "pass\">yes" : "fail\">no")
             << "</span> " << esc(str(*it, "detail"));
      else if (it->is_primitive())
        out_ << esc(it->is_string() ? it->get<std::string>() : it->dump());
      else
        out_ << "<details><summary>" << it->size() << " entries</summary><pre>" << esc(it->dump(2))
             << "</pre></details>";
      out_ << "</td></tr>\n";
    }
    out_ << "</table>\n";
  }

  // The runs a case run's verdict is judged against: the same case with the enforcer off, on
  // this target and on the scenario's reference target.
  std::vector<std::size_t> controls_of(std::size_t index) const {
    const json& c = cases_[index];
    std::vector<std::size_t> out;
    if (c.value("attack", json()).is_null()) return out;
    for (std::size_t i = 0; i < cases_.size(); ++i) {
      const json& o = cases_[i];
      if (i == index || str(o, "scenario") != str(c, "scenario") ||
          str(o, "case") != str(c, "case") || str(o, "enforcer_mode") != "off")
        continue;
      if (str(o, "target") == str(c, "target") || str(o, "role") == "reference-control")
        out.push_back(i);
    }
    return out;
  }

  void case_runs() {
    out_ << "<h2 id=\"runs\">Case runs and their evidence</h2>\n";
    for (std::size_t i = 0; i < cases_.size(); ++i) {
      const json& c = cases_[i];
      const std::string verdict = str(c, "verdict");
      const VerdictStyle s = verdict_style(verdict);
      const bool not_run = verdict == "not-run";
      const bool passed = flag(c, "passed", false);
      out_ << "<section class=\"run\" id=\"" << anchor(i) << "\"><h3>" << esc(case_label(c))
           << "<span class=\"badge " << s.css << "\">" << esc(verdict) << "</span> "
           << "<span class=\""
           << (not_run  ? "muted"
               : passed ? "pass"
                        : "fail")
           << "\">"
           << (not_run  ? "not run"
               : passed ? "as expected"
                        : "NOT as expected")
           << " (expected " << esc(str(c, "expected")) << ")</span></h3>"
           << "<p>" << esc(str(c, "reason")) << "</p><table>"
           << "<tr><th>scenario file</th><td>" << esc(str(c, "scenario_file")) << ":"
           << c.value("line", 0) << "</td></tr>"
           << "<tr><th>role</th><td>" << esc(str(c, "role")) << "</td></tr>";
      if (!c.value("attack", json()).is_null())
        out_ << "<tr><th>attack</th><td>" << esc(str(c, "attack")) << "</td></tr>"
             << "<tr><th>objective</th><td><pre>" << esc(c.value("objective", json()).dump(2))
             << "</pre></td></tr>";
      if (const json service = c.value("service", json()); service.is_object())
        out_ << "<tr><th>service after the attack</th><td>"
             << (flag(service, "kept", false) ? "kept" : "LOST") << ": "
             << esc(str(service, "detail")) << "</td></tr>";
      const json e = c.value("enforcer", json::object());
      out_ << "<tr><th>enforcer</th><td>"
           << esc(str(e, "backend").empty() ? "none" : str(e, "backend")) << " "
           << esc(str(e, "location")) << "</td></tr>";
      const std::vector<std::size_t> controls = controls_of(i);
      if (!controls.empty()) {
        out_ << "<tr><th>control runs</th><td>";
        for (std::size_t k : controls)
          out_ << "<a href=\"#" << anchor(k) << "\">" << esc(case_label(cases_[k])) << ": "
               << esc(str(cases_[k], "verdict")) << "</a> ";
        out_ << "</td></tr>";
      }
      out_ << "<tr><th>duration</th><td>" << fixed(c.value("duration_s", 0.0), 2)
           << " s</td></tr></table>";
      const json attribution = c.value("attribution", json());
      if (attribution.is_object()) {
        const json attributed = attribution.value("attributed", json::array());
        out_ << "<p><b>Operations the verdict rests on</b> (" << attributed.size()
             << " attributed, " << attribution.value("unattributed", 0) << " other records, "
             << attribution.value("events_dropped", 0) << " events dropped)</p>";
        if (!attributed.empty()) {
          out_ << "<table><tr><th>by</th><th>operation</th><th>resource</th><th>rule</th>"
                  "<th>refused</th><th>detail</th></tr>";
          for (const json& d : attributed)
            out_ << "<tr><td>" << esc(str(d, "by")) << "</td><td>" << esc(str(d, "operation"))
                 << "</td><td>" << esc(str(d, "resource")) << "</td><td>" << esc(str(d, "rule"))
                 << "</td><td>" << (flag(d, "refused", false) ? "yes" : "no") << "</td><td>"
                 << esc(str(d, "detail")) << "</td></tr>";
          out_ << "</table>";
        }
      }
      out_ << "<p><b>Evidence</b></p><ul>";
      for (const json& ev : c.value("evidence", json::array())) {
        out_ << "<li><b>" << esc(str(ev, "kind")) << "</b>: " << esc(str(ev, "summary"));
        const json data = ev.value("data", json());
        if (!data.is_null() && !(data.is_object() && data.empty())) {
          std::string text = data.dump(2);
          constexpr std::size_t kLimit = 6000;
          if (text.size() > kLimit)
            text = text.substr(0, kLimit) + "\n... (" + std::to_string(text.size() - kLimit) +
                   " more characters in results.json)";
          out_ << "<details><summary>data</summary><pre>" << esc(text) << "</pre></details>";
        }
        out_ << "</li>";
      }
      out_ << "</ul>";
      if (const json timings = c.value("timings", json::object());
          timings.is_object() && !timings.empty()) {
        out_ << "<p class=\"muted\">timings (ms): ";
        for (auto it = timings.begin(); it != timings.end(); ++it)
          out_ << esc(it.key()) << " " << esc(it->dump()) << "; ";
        out_ << "</p>";
      }
      out_ << "</section>\n";
    }
  }

  const json& results_;
  json cases_;
  std::ostringstream out_;
};

}  // namespace

std::string html_report(const nlohmann::json& results) {
  return HtmlReport(results).render();
}

}  // namespace armorbench::reports
