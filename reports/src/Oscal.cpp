// OSCAL 1.1 assessment results from results.json: the run is one result; its reviewed controls are
// the NIST SP 800-53 ids the scenarios cite; every case run is an observation; every control a
// finding, satisfied only when every run meant to stop an attack stopped it and every enforced
// benign run served.
#include "armorbench/reports/Oscal.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "Crypto.h"
#include "JsonField.h"
#include "armorbench/base/Hex.h"

namespace armorbench::reports {
namespace {

using nlohmann::json;

constexpr const char* kNamespace = "urn:armorbench:oscal";  // our props' ns (a URI, as OSCAL asks)

json prop(const std::string& name, const std::string& value) {
  return {{"name", name}, {"ns", kNamespace}, {"value", value.empty() ? "none" : value}};
}

std::string case_label(const json& c) {
  return str(c, "scenario") + "/" + str(c, "case") + " [" + str(c, "target") + "/" +
         str(c, "enforcer_mode") + "]";
}

// Whether a case run is judged for the controls its scenario cites, and if so whether it held:
// attacks the scenario meant to be stopped (enforcer in block mode, or an isolation expected to
// prevent them) must be blocked or prevented; benign runs under enforcement must be allowed.
// nullopt: not judged (audit-mode attacks, controls, not-run).
std::optional<bool> held(const json& c) {
  const std::string verdict = str(c, "verdict");
  if (verdict == "not-run") return std::nullopt;
  const std::string mode = str(c, "enforcer_mode");
  if (str(c, "attack").empty()) {
    if (mode == "off") return std::nullopt;
    return verdict == "allowed";
  }
  const std::string expected = str(c, "expected");
  if (mode != "block" && expected != "blocked" && expected != "prevented") return std::nullopt;
  return verdict == "blocked" || verdict == "prevented";
}

bool judged_or_not_run(const json& c) {
  if (str(c, "verdict") != "not-run") return held(c).has_value();
  const std::string expected = str(c, "expected");
  return str(c, "enforcer_mode") == "block" || expected == "blocked" || expected == "prevented";
}

}  // namespace

std::string uuid_v5(const std::string& name) {
  // uuid5(NAMESPACE_URL, "urn:armorbench")
  static const std::vector<std::uint8_t> kArmorBenchNamespace =
      from_hex("666304b26bff546e96b37195411abb9d");
  std::string input(kArmorBenchNamespace.begin(), kArmorBenchNamespace.end());
  input += name;
  const auto digest = sha1(input);
  std::array<std::uint8_t, 16> u{};
  std::copy_n(digest.begin(), 16, u.begin());
  u[6] = static_cast<std::uint8_t>((u[6] & 0x0f) | 0x50);
  u[8] = static_cast<std::uint8_t>((u[8] & 0x3f) | 0x80);
  const std::string hex = to_hex(u);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

std::optional<std::string> oscal_control_id(const std::string& control) {
  static const std::regex pattern(R"(^([A-Za-z]{2})-([0-9]+)(?:\(([0-9]+)\))?$)");
  std::smatch m;
  if (!std::regex_match(control, m, pattern)) return std::nullopt;
  std::string family = m[1];
  for (char& c : family) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string id = family + "-" + std::to_string(std::stoi(m[2]));
  if (m[3].matched) id += "." + std::to_string(std::stoi(m[3]));
  return id;
}

json oscal_assessment_results(const json& results) {
  const json run = results.value("run", json::object());
  const std::string run_id = str(run, "id");
  const std::string started = str(run, "started");
  const std::string finished = str(run, "finished").empty() ? started : str(run, "finished");
  const std::string version = str(run.value("tool", json::object()), "version");
  const json cases = results.value("cases", json::array());

  // Control -> the scenarios citing it, and the OWASP LLM ids those scenarios cite.
  std::vector<std::string> controls;  // first-cited order
  std::map<std::string, std::string> control_name;
  std::map<std::string, std::set<std::string>> scenarios_of, owasp_of;
  for (const json& s : results.value("scenarios", json::array())) {
    std::vector<std::string> owasp, own;
    for (const json& id : s.value("controls", json::array())) {
      if (!id.is_string()) continue;
      const std::string text = id.get<std::string>();
      if (text.rfind("OWASP-", 0) == 0) {
        owasp.push_back(text.substr(6));
      } else if (const auto control = oscal_control_id(text)) {
        own.push_back(*control);
        control_name[*control] = text;
      }
    }
    for (const std::string& control : own) {
      if (std::find(controls.begin(), controls.end(), control) == controls.end())
        controls.push_back(control);
      scenarios_of[control].insert(str(s, "name"));
      owasp_of[control].insert(owasp.begin(), owasp.end());
    }
  }

  json observations = json::array();
  std::vector<std::string> observation_uuid(cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    observation_uuid[i] = uuid_v5(run_id + "/observation/" + case_label(c));
    json props =
        json::array({prop("verdict", str(c, "verdict")), prop("expected", str(c, "expected")),
                     prop("target", str(c, "target")),
                     prop("enforcer-mode", str(c, "enforcer_mode")), prop("role", str(c, "role"))});
    if (!str(c, "attack").empty()) props.push_back(prop("attack", str(c, "attack")));
    if (const json service = c.value("service", json()); service.is_object())
      props.push_back(prop("service-kept", service.value("kept", false) ? "true" : "false"));
    observations.push_back(
        {{"uuid", observation_uuid[i]},
         {"title", case_label(c)},
         {"description", str(c, "verdict") + " (expected " + str(c, "expected") + "): " +
                             (str(c, "reason").empty() ? "no reason recorded" : str(c, "reason"))},
         {"props", props},
         {"methods", json::array({"TEST"})},
         {"types", json::array({"finding"})},
         {"collected", finished},
         {"relevant-evidence",
          json::array({{{"href", "results.json#/cases/" + std::to_string(i)},
                        {"description",
                         "The case run's record in the run's results.json: "
                         "objective, attributed denials, control runs, evidence."}}})}});
  }

  json findings = json::array();
  json selected = json::array();
  for (const std::string& control : controls) {
    selected.push_back({{"control-id", control}});
    std::map<std::string, std::pair<int, int>> per_target;  // held, judged
    std::vector<std::string> target_order;
    json related = json::array();
    int judged = 0, holding = 0, not_run = 0;
    std::vector<std::string> failures;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const json& c = cases[i];
      if (!scenarios_of[control].count(str(c, "scenario")) || !judged_or_not_run(c)) continue;
      related.push_back({{"observation-uuid", observation_uuid[i]}});
      const std::string target = str(c, "target");
      if (!per_target.count(target)) target_order.push_back(target);
      auto& [target_held, target_judged] = per_target[target];
      const std::optional<bool> outcome = held(c);
      if (!outcome) {
        ++not_run;
        continue;
      }
      ++judged;
      ++target_judged;
      if (*outcome) {
        ++holding;
        ++target_held;
      } else if (failures.size() < 12) {
        failures.push_back(case_label(c) + ": " + str(c, "verdict"));
      }
    }
    const bool satisfied = judged > 0 && holding == judged;
    std::string description = control_name[control] + ", cited by ";
    bool first = true;
    for (const std::string& s : scenarios_of[control]) {
      description += (first ? "" : ", ") + s;
      first = false;
    }
    description += ". " + std::to_string(holding) + " of " + std::to_string(judged) +
                   " judged case runs held (attacks meant to be stopped were blocked or "
                   "prevented; benign runs under enforcement were served)";
    if (not_run > 0) description += "; " + std::to_string(not_run) + " not run on this host";
    description += ". Per target:";
    for (const std::string& target : target_order) {
      const auto [h, j] = per_target[target];
      description +=
          " " + target + " " +
          (j == 0 ? std::string("not evaluated") : std::to_string(h) + "/" + std::to_string(j)) +
          ";";
    }
    if (!failures.empty()) {
      description += " Did not hold:";
      for (const std::string& f : failures) description += " " + f + ";";
    }
    json status = {{"state", satisfied ? "satisfied" : "not-satisfied"}};
    if (judged == 0) {
      status["reason"] = "other";
      status["remarks"] = "Not evaluated: no case run citing this control could run here.";
    } else {
      status["reason"] = satisfied ? "pass" : "fail";
    }
    json props = json::array({prop("judged-case-runs", std::to_string(judged)),
                              prop("held-case-runs", std::to_string(holding))});
    for (const std::string& owasp : owasp_of[control]) props.push_back(prop("owasp-llm", owasp));
    json finding = {
        {"uuid", uuid_v5(run_id + "/finding/" + control)},
        {"title", control_name[control] + ": " + (satisfied ? "satisfied" : "not satisfied")},
        {"description", description},
        {"props", props},
        {"target",
         {{"type", "objective-id"}, {"target-id", control + "_obj"}, {"status", status}}}};
    if (!related.empty()) finding["related-observations"] = related;
    findings.push_back(std::move(finding));
  }

  json result = {
      {"uuid", uuid_v5(run_id + "/result")},
      {"title", "ArmorBench run " + run_id},
      {"description",
       "Every case x target x enforcer mode of the run's scenarios, each an "
       "observation by test; a finding per control the scenarios cite."},
      {"start", started},
      {"props",
       json::array(
           {prop("exit-code",
                 std::to_string(results.value("summary", json::object()).value("exit_code", 2)))})},
      {"reviewed-controls",
       {{"control-selections",
         json::array({selected.empty()
                          ? json{{"description",
                                  "The run's scenarios cite no NIST SP 800-53 control: no "
                                  "control was assessed."}}
                          : json{{"include-controls", selected}}})}}}};
  if (!finished.empty()) result["end"] = finished;
  if (!observations.empty()) result["observations"] = observations;
  if (!findings.empty()) result["findings"] = findings;

  return {{"assessment-results",
           {{"uuid", uuid_v5(run_id + "/assessment-results")},
            {"metadata",
             {{"title", "ArmorBench assessment results, run " + run_id},
              {"last-modified", finished},
              {"version", version.empty() ? "unknown" : version},
              {"oscal-version", kOscalVersion}}},
            {"import-ap",
             {{"href", "results.json#/scenarios"},
              {"remarks",
               "The assessment plan is the run's scenario files (results.json lists them; an "
               "evidence bundle holds their exact bytes)."}}},
            {"results", json::array({result})}}}};
}

}  // namespace armorbench::reports
