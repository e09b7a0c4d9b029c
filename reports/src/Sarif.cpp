// SARIF 2.1.0: one run, a rule per attack kind (and two for the benign workload), a result per
// case run a code-scanning reviewer must look at.
#include "armorbench/reports/Sarif.h"

#include <cstdio>
#include <string_view>

#include "JsonField.h"
#include "armorbench/attacks/Attack.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Sha256.h"

namespace armorbench::reports {
namespace {

using nlohmann::json;

constexpr const char* kBenignDisrupted = "benign-disrupted";
constexpr const char* kBenignUnjudged = "benign-not-evaluated";

std::string camel(const std::string& kind) {
  std::string out;
  bool upper = true;
  for (char c : kind) {
    if (c == '-' || c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string severity_text(double severity) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f", severity);
  return text;
}

json rule(const std::string& id, const std::string& summary, const std::string& help,
          double severity, const std::string& cwe) {
  json tags = json::array({"security"});
  if (!cwe.empty()) {
    std::string lower = cwe;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    tags.push_back("external/cwe/" + lower);
  }
  return {
      {"id", id},
      {"name", camel(id)},
      {"shortDescription", {{"text", summary}}},
      {"fullDescription", {{"text", summary + ". " + help}}},
      {"help", {{"text", help}}},
      {"defaultConfiguration", {{"level", "error"}}},
      {"properties",
       {{"security-severity", severity_text(severity)}, {"tags", tags}, {"precision", "high"}}}};
}

json rules() {
  json out = json::array();
  for (const attacks::AttackKindInfo& kind : attacks::attack_kinds())
    out.push_back(rule(kind.name, kind.summary,
                       "A finding is a case run in which this attack reached its objective where "
                       "the scenario meant it to be stopped (the enforcer in block mode, or a "
                       "target whose isolation should prevent it), or a run that produced no "
                       "defensible verdict (invalid, error, not run). The case run's evidence in "
                       "results.json names the operations the attack needed and what recorded or "
                       "refused them.",
                       kind.severity, kind.cwe));
  out.push_back(rule(kBenignDisrupted,
                     "A benign model was disrupted by enforcement (a false positive)",
                     "The benign workload failed to load or answer correctly with the enforcer "
                     "enforcing; the case run's evidence names what was refused.",
                     5.3, "CWE-693"));
  out.push_back(rule(kBenignUnjudged, "A benign case run produced no verdict",
                     "The benign workload's run ended in error or was not run; its latency and "
                     "false-positive figures are missing.",
                     2.0, ""));
  return out;
}

// A scenario file path as a SARIF artifact URI: relative paths (as a run from the checkout
// names them) against %SRCROOT%, absolute ones as file URIs; characters outside RFC 3986's
// unreserved and path sets percent-encoded.
json artifact_location(const std::string& path) {
  std::string encoded;
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::string_view("-._~/!$&'()*+,;=:@").find(static_cast<char>(c)) !=
                               std::string_view::npos) {
      encoded += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      encoded += hex;
    }
  }
  if (!path.empty() && path.front() == '/') return {{"uri", "file://" + encoded}};
  std::string relative = encoded;
  while (relative.rfind("./", 0) == 0) relative.erase(0, 2);
  return {{"uri", relative}, {"uriBaseId", "%SRCROOT%"}};
}

struct Finding {
  std::string rule;
  std::string kind;   // SARIF result.kind
  std::string level;  // SARIF result.level
  std::string what;   // the fingerprint's finding class
  std::string message;
};

// Whether a case run is a finding, and which.
std::optional<Finding> finding_of(const json& c) {
  const std::string verdict = str(c, "verdict");
  const std::string expected = str(c, "expected");
  const std::string mode = str(c, "enforcer_mode");
  const std::string attack = str(c, "attack");
  const std::string where = str(c, "scenario") + "/" + str(c, "case") + " on " + str(c, "target") +
                            " with the enforcer " + mode;
  const std::string reason = str(c, "reason");
  if (attack.empty()) {
    if (verdict == "disrupted")
      return Finding{kBenignDisrupted, "fail", "warning", "disrupted",
                     "Benign workload disrupted: " + where + ": " + reason};
    if (verdict == "error" || verdict == "invalid")
      return Finding{kBenignUnjudged, "fail", "warning", verdict,
                     "Benign case run ended " + verdict + ": " + where + ": " + reason};
    if (verdict == "not-run")
      return Finding{kBenignUnjudged, "open", "none", verdict,
                     "Benign case run not run: " + where + ": " + reason};
    return std::nullopt;
  }
  const bool meant_to_stop = mode == "block" || expected == "blocked" || expected == "prevented";
  if ((verdict == "reached" || verdict == "detected") && meant_to_stop) {
    std::string message = "Attack reached its objective: " + where + ": " + reason;
    if (verdict == expected) message += " (the scenario expects this: a documented gap)";
    return Finding{attack, "fail", "error", "reached", message};
  }
  if (verdict == "invalid" || verdict == "error")
    return Finding{attack, "fail", "warning", verdict,
                   "No defensible verdict (" + verdict + "): " + where + ": " + reason};
  if (verdict == "not-run")
    return Finding{attack, "open", "none", verdict, "Not evaluated: " + where + ": " + reason};
  return std::nullopt;
}

}  // namespace

std::string finding_fingerprint(const json& case_run, const std::string& finding) {
  const std::string identity = str(case_run, "scenario") + '\0' + str(case_run, "case") + '\0' +
                               str(case_run, "target") + '\0' + str(case_run, "enforcer_mode") +
                               '\0' + finding;
  const auto digest =
      Sha256::digest({reinterpret_cast<const std::uint8_t*>(identity.data()), identity.size()});
  return to_hex(digest);
}

json sarif_log(const json& results) {
  const json run = results.value("run", json::object());
  const json summary = results.value("summary", json::object());
  json found = json::array();
  for (const json& c : results.value("cases", json::array())) {
    const auto finding = finding_of(c);
    if (!finding) continue;
    json result = {
        {"ruleId", finding->rule},
        {"kind", finding->kind},
        {"level", finding->level},
        {"message", {{"text", finding->message}}},
        {"partialFingerprints", {{"armorbenchCaseRun/v1", finding_fingerprint(c, finding->what)}}},
        {"properties",
         {{"verdict", str(c, "verdict")},
          {"expected", str(c, "expected")},
          {"target", str(c, "target")},
          {"targetKind", str(c, "target_kind")},
          {"enforcerMode", str(c, "enforcer_mode")},
          {"role", str(c, "role")}}}};
    json location = {
        {"physicalLocation", {{"artifactLocation", artifact_location(str(c, "scenario_file"))}}},
        {"logicalLocations",
         json::array({{{"fullyQualifiedName", str(c, "scenario") + "/" + str(c, "case") + "[" +
                                                  str(c, "target") + "/" + str(c, "enforcer_mode") +
                                                  "]"}}})}};
    if (const int line = c.value("line", 0); line > 0)
      location["physicalLocation"]["region"] = {{"startLine", line}};
    result["locations"] = json::array({location});
    if (const json service = c.value("service", json()); service.is_object())
      result["properties"]["serviceKept"] = service.value("kept", false);
    if (const json attribution = c.value("attribution", json()); attribution.is_object())
      result["properties"]["attributedOperations"] =
          attribution.value("attributed", json::array()).size();
    found.push_back(std::move(result));
  }
  const int exit_code = summary.value("exit_code", 2);
  json invocation = {{"executionSuccessful", exit_code == 0 || exit_code == 1},
                     {"exitCode", exit_code}};
  if (run.contains("started") && run["started"].is_string())
    invocation["startTimeUtc"] = run["started"];
  if (run.contains("finished") && run["finished"].is_string())
    invocation["endTimeUtc"] = run["finished"];
  const json tool = run.value("tool", json::object());
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", json::array({{{"tool",
                                  {{"driver",
                                    {{"name", "ArmorBench"},
                                     {"version", tool.value("version", "unknown")},
                                     {"rules", rules()}}}}},
                                 {"automationDetails", {{"id", "armorbench/" + str(run, "id")}}},
                                 {"invocations", json::array({invocation})},
                                 {"columnKind", "unicodeCodePoints"},
                                 {"results", found}}})}};
}

}  // namespace armorbench::reports
