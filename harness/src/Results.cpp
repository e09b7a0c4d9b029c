// Results: statistics, summaries, gates and their JSON form.
#include "armorbench/harness/Results.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace armorbench {
namespace {

using nlohmann::json;

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Linear interpolation between closest ranks (the "R-7" definition numpy uses by default).
  const double rank = p * static_cast<double>(sorted.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(rank));
  const auto high = static_cast<std::size_t>(std::ceil(rank));
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - static_cast<double>(low));
}

json optional_rate(const std::optional<double>& rate) {
  return rate ? json(*rate) : json(nullptr);
}

std::string format_rate(double rate) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", rate);
  return text;
}

}  // namespace

LatencyStats LatencyStats::from_samples(std::vector<double> samples_us) {
  LatencyStats s;
  s.samples_us = samples_us;
  s.count = samples_us.size();
  if (samples_us.empty()) return s;
  std::sort(samples_us.begin(), samples_us.end());
  s.min_us = samples_us.front();
  s.max_us = samples_us.back();
  s.p50_us = percentile(samples_us, 0.50);
  s.p95_us = percentile(samples_us, 0.95);
  s.p99_us = percentile(samples_us, 0.99);
  double sum = 0;
  for (double v : samples_us) sum += v;
  s.mean_us = sum / static_cast<double>(s.count);
  double squares = 0;
  for (double v : samples_us) squares += (v - s.mean_us) * (v - s.mean_us);
  s.stddev_us = s.count > 1 ? std::sqrt(squares / static_cast<double>(s.count - 1)) : 0;
  return s;
}

json LatencyStats::to_json() const {
  return {{"count", count},     {"min_us", min_us},       {"p50_us", p50_us},
          {"p95_us", p95_us},   {"p99_us", p99_us},       {"max_us", max_us},
          {"mean_us", mean_us}, {"stddev_us", stddev_us}, {"samples_us", samples_us}};
}

std::string CaseResult::id() const {
  return scenario + "/" + case_name + "[" + target + "/" + to_string(mode) + "]";
}

json CaseResult::to_json() const {
  json evidence_json = json::array();
  for (const Evidence& e : evidence) evidence_json.push_back(e.to_json());
  return {{"scenario", scenario},
          {"scenario_file", scenario_file},
          {"line", where.line},
          {"case", case_name},
          {"target", target},
          {"target_kind", target_kind},
          {"enforcer_mode", to_string(mode)},
          {"role", role},
          {"attack", attack.empty() ? json(nullptr) : json(attack)},
          {"objective", objective},
          {"verdict", to_string(verdict)},
          {"reason", reason},
          {"expected", to_string(expected)},
          {"passed", verdict == Verdict::kNotRun ? json(nullptr) : json(passed())},
          {"evidence", evidence_json},
          {"timings", timings},
          {"latency", latency ? latency->to_json() : json(nullptr)},
          {"enforcer", enforcer},
          {"attribution", attribution},
          {"service",
           service ? json{{"kept", service->kept}, {"detail", service->detail}} : json(nullptr)},
          {"duration_s", duration_s}};
}

json ModeSummary::to_json() const {
  return {{"target", target},
          {"enforcer_mode", to_string(mode)},
          {"counts",
           {{"attacks", attacks},
            {"blocked", blocked},
            {"detected", detected},
            {"reached", reached},
            {"prevented", prevented},
            {"blocked_service_kept", blocked_service_kept},
            {"blocked_service_lost", blocked_service_lost},
            {"invalid", invalid},
            {"benign", benign},
            {"allowed", allowed},
            {"disrupted", disrupted},
            {"not_run", not_run},
            {"error", errors}}},
          {"block_rate", optional_rate(block_rate)},
          {"detection_rate", optional_rate(detection_rate)},
          {"false_positive_rate", optional_rate(false_positive_rate)}};
}

std::vector<ModeSummary> summarize(const std::vector<CaseResult>& cases) {
  std::map<std::pair<std::string, EnforcerMode>, ModeSummary> by_key;
  std::map<std::pair<std::string, EnforcerMode>, int> recorded;  // audit: blocked and recorded
  std::vector<std::pair<std::string, EnforcerMode>> order;
  for (const CaseResult& c : cases) {
    const auto key = std::make_pair(c.target, c.mode);
    if (!by_key.count(key)) order.push_back(key);
    ModeSummary& s = by_key[key];
    s.target = c.target;
    s.mode = c.mode;
    const bool attack = !c.attack.empty();
    (attack ? s.attacks : s.benign) += 1;
    switch (c.verdict) {
      case Verdict::kBlocked:
        ++s.blocked;
        if (c.service) (c.service->kept ? s.blocked_service_kept : s.blocked_service_lost) += 1;
        if (c.mode == EnforcerMode::kAudit && c.enforcer_recorded) ++recorded[key];
        break;
      case Verdict::kPrevented:
        ++s.prevented;
        break;
      case Verdict::kDetected:
        ++s.detected;
        break;
      case Verdict::kReached:
        ++s.reached;
        break;
      case Verdict::kInvalid:
        ++s.invalid;
        break;
      case Verdict::kAllowed:
        ++s.allowed;
        break;
      case Verdict::kDisrupted:
        ++s.disrupted;
        break;
      case Verdict::kNotRun:
        ++s.not_run;
        break;
      case Verdict::kError:
        ++s.errors;
        break;
    }
  }
  std::vector<ModeSummary> out;
  for (const auto& key : order) {
    ModeSummary s = by_key[key];
    const int valid = s.blocked + s.detected + s.reached;  // prevented: isolation, not counted
    if (s.mode == EnforcerMode::kBlock && valid > 0)
      s.block_rate = static_cast<double>(s.blocked) / valid;
    if (s.mode == EnforcerMode::kAudit && valid > 0)
      s.detection_rate = static_cast<double>(s.detected + recorded[key]) / valid;
    if (s.mode != EnforcerMode::kOff && s.allowed + s.disrupted > 0)
      s.false_positive_rate = static_cast<double>(s.disrupted) / (s.allowed + s.disrupted);
    out.push_back(s);
  }
  return out;
}

json GateResult::to_json() const {
  return {{"scenario", scenario},
          {"gate", gate},
          {"passed", passed},
          {"evaluated", evaluated},
          {"detail", detail}};
}

std::vector<GateResult> evaluate_gates(const std::vector<Scenario>& scenarios,
                                       const std::vector<CaseResult>& cases) {
  std::vector<GateResult> gates;
  for (const Scenario& scenario : scenarios) {
    std::vector<CaseResult> own;
    for (const CaseResult& c : cases)
      if (c.scenario == scenario.name) own.push_back(c);
    if (own.empty()) continue;

    GateResult expectations{scenario.name, "expectations", true, true, ""};
    int failed = 0, unjudged = 0, skipped = 0;
    std::string unjudged_detail;
    int references = 0;
    for (const CaseResult& c : own) {
      // A reference target's control is evidence for the isolation verdicts of the targets
      // judged against it (which have expectations of their own), not a declared expectation.
      if (c.role == "reference-control") {
        ++references;
        continue;
      }
      if (c.verdict == Verdict::kNotRun && !c.passed()) {
        // A run the host could not do proves nothing either way: expected where the target is
        // declared optional (hardware this host may lack), else the gate is not evaluated.
        if (c.optional_target) {
          ++skipped;
        } else if (++unjudged <= 3) {
          unjudged_detail += (unjudged_detail.empty() ? "" : "; ") + c.id() + ": " + c.reason;
        }
        continue;
      }
      if (c.passed()) continue;
      ++failed;
      if (failed <= 5)
        expectations.detail += (expectations.detail.empty() ? "" : "; ") + c.id() + " was " +
                               to_string(c.verdict) + ", expected " + to_string(c.expected);
    }
    expectations.passed = failed == 0;
    expectations.evaluated = unjudged == 0;
    if (failed > 5) expectations.detail += "; and " + std::to_string(failed - 5) + " more";
    if (failed == 0)
      expectations.detail =
          std::to_string(own.size() - unjudged - skipped - references) + " case runs as expected" +
          (skipped ? "; " + std::to_string(skipped) + " not run on optional targets" : "") +
          (references ? "; " + std::to_string(references) + " reference control(s) as evidence"
                      : "");
    if (unjudged)
      expectations.detail += "; " + std::to_string(unjudged) +
                             " run(s) not run, so not evaluated: " + unjudged_detail +
                             (unjudged > 3 ? "; ..." : "");
    gates.push_back(expectations);

    // Every declared rate gate is judged for every target that ran, in the mode it needs; a
    // gate with nothing to divide is "not evaluated", never dropped.
    const GateSpec& gate = scenario.gate;
    const std::vector<ModeSummary> summaries = summarize(own);
    for (const TargetSpec& t : scenario.targets) {
      if (t.reference_only) continue;
      const bool present = std::any_of(own.begin(), own.end(),
                                       [&](const CaseResult& c) { return c.target == t.name; });
      const bool all_not_run = std::all_of(own.begin(), own.end(), [&](const CaseResult& c) {
        return c.target != t.name || c.verdict == Verdict::kNotRun;
      });
      if (!present || (t.optional && all_not_run)) continue;
      const auto summary_of = [&](EnforcerMode mode) -> const ModeSummary* {
        for (const ModeSummary& s : summaries)
          if (s.target == t.name && s.mode == mode) return &s;
        return nullptr;
      };
      auto check = [&](const std::string& name, EnforcerMode mode,
                       std::optional<double> ModeSummary::*rate, double threshold, bool minimum) {
        const ModeSummary* s = summary_of(mode);
        const std::string id = name + "[" + t.name + "]";
        if (!s || !(s->*rate)) {
          gates.push_back({scenario.name, id, true, false,
                           std::string("not evaluated: no ") + to_string(mode) +
                               "-mode run of target " + t.name +
                               " has a verdict this rate counts (not run, invalid or error)"});
          return;
        }
        const double value = *(s->*rate);
        const bool ok = minimum ? value >= threshold : value <= threshold;
        gates.push_back({scenario.name, id, ok, true,
                         format_rate(value) + (minimum ? " >= " : " <= ") + format_rate(threshold) +
                             (ok ? "" : " FAILED")});
      };
      if (gate.min_block_rate)
        check("min_block_rate", EnforcerMode::kBlock, &ModeSummary::block_rate,
              *gate.min_block_rate, true);
      if (gate.min_detection_rate)
        check("min_detection_rate", EnforcerMode::kAudit, &ModeSummary::detection_rate,
              *gate.min_detection_rate, true);
      if (gate.max_false_positive_rate)
        for (EnforcerMode mode : scenario.enforcer.modes)
          if (mode != EnforcerMode::kOff)
            check(std::string("max_false_positive_rate.") + to_string(mode), mode,
                  &ModeSummary::false_positive_rate, *gate.max_false_positive_rate, false);
    }
    if (gate.max_invalid) {
      const auto invalid = std::count_if(own.begin(), own.end(), [](const CaseResult& c) {
        return c.verdict == Verdict::kInvalid && c.expected != Verdict::kInvalid;
      });
      gates.push_back(
          {scenario.name, "max_invalid", invalid <= *gate.max_invalid, true,
           std::to_string(invalid) + " invalid <= " + std::to_string(*gate.max_invalid)});
    }
  }
  return gates;
}

ExitCode run_exit_code(const std::vector<CaseResult>& cases, const std::vector<GateResult>& gates) {
  const bool any_error = std::any_of(
      cases.begin(), cases.end(), [](const CaseResult& c) { return c.verdict == Verdict::kError; });
  if (any_error) return ExitCode::kHarnessError;
  const bool gate_failed =
      std::any_of(gates.begin(), gates.end(), [](const GateResult& g) { return !g.passed; });
  if (gate_failed) return ExitCode::kGateFailed;
  const bool any_ran = std::any_of(cases.begin(), cases.end(), [](const CaseResult& c) {
    return c.verdict != Verdict::kNotRun;
  });
  const bool unjudged =
      std::any_of(gates.begin(), gates.end(), [](const GateResult& g) { return !g.evaluated; });
  return !any_ran || unjudged ? ExitCode::kNotEvaluated : ExitCode::kOk;
}

json RunResults::to_json() const {
  json cases_json = json::array();
  for (const CaseResult& c : cases) cases_json.push_back(c.to_json());
  json summary_json = json::array();
  for (const ModeSummary& s : summary) summary_json.push_back(s.to_json());
  json gates_json = json::array();
  for (const GateResult& g : gates) gates_json.push_back(g.to_json());
  return {{"schema", kResultsSchema},
          {"run", run},
          {"host", host},
          {"scenarios", scenarios},
          {"cases", cases_json},
          {"summary",
           {{"by_target_mode", summary_json},
            {"gates", gates_json},
            {"exit_code", static_cast<int>(exit_code)}}}};
}

CaseLog::CaseLog(const std::filesystem::path& file) : out_(file, std::ios::app) {
  if (!out_) throw environment_error("cannot open " + file.string() + " for writing");
}

void CaseLog::append(const CaseResult& result) {
  out_ << result.to_json().dump() << '\n';
  out_.flush();
}

void write_file_atomically(const std::filesystem::path& file, const std::string& content) {
  const std::filesystem::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw environment_error("cannot write " + temporary.string());
  }
  std::filesystem::rename(temporary, file);
}

}  // namespace armorbench
