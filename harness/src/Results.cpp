// Results: statistics, summaries, gates and their JSON form.
#include "armorbench/harness/Results.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace armorbench {
namespace {

using nlohmann::json;

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
          {"enforcer_recorded", enforcer_recorded},
          {"optional_target", optional_target},
          {"duration_s", duration_s}};
}

CaseResult CaseResult::from_json(const json& j) {
  try {
    CaseResult c;
    c.scenario = j.at("scenario").get<std::string>();
    c.scenario_file = j.value("scenario_file", "");
    c.where = {c.scenario_file, j.value("line", 0), 0};
    c.case_name = j.at("case").get<std::string>();
    c.target = j.at("target").get<std::string>();
    c.target_kind = j.value("target_kind", "");
    const auto mode = enforcer_mode_from_string(j.at("enforcer_mode").get<std::string>());
    const auto verdict = verdict_from_string(j.at("verdict").get<std::string>());
    const auto expected = verdict_from_string(j.at("expected").get<std::string>());
    if (!mode || !verdict || !expected) throw input_error("unknown mode or verdict");
    c.mode = *mode;
    c.verdict = *verdict;
    c.expected = *expected;
    c.role = j.value("role", "");
    if (j.contains("attack") && j["attack"].is_string()) c.attack = j["attack"];
    c.objective = j.value("objective", json());
    c.reason = j.value("reason", "");
    for (const json& e : j.value("evidence", json::array()))
      c.evidence.push_back(
          {e.value("kind", ""), e.value("summary", ""), e.value("data", json::object())});
    c.timings = j.value("timings", json::object());
    if (j.contains("latency") && j["latency"].is_object())
      c.latency =
          LatencyStats::from_samples(j["latency"].value("samples_us", std::vector<double>{}));
    c.enforcer = j.value("enforcer", json::object());
    c.attribution = j.value("attribution", json());
    if (j.contains("service") && j["service"].is_object())
      c.service = Availability{j["service"].value("kept", false), j["service"].value("detail", "")};
    c.enforcer_recorded = j.value("enforcer_recorded", false);
    c.optional_target = j.value("optional_target", false);
    c.duration_s = j.value("duration_s", 0.0);
    return c;
  } catch (const json::exception& e) {
    throw input_error(std::string("a case record that is not ArmorBench's: ") + e.what());
  }
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

const Interval* OverheadFigure::ratio(Statistic statistic) const {
  for (const auto& [s, interval] : ratios)
    if (s == statistic) return &interval;
  return nullptr;
}

json OverheadFigure::to_json() const {
  json out = {{"scenario", scenario},
              {"target", target},
              {"enforcer_mode", to_string(mode)},
              {"against", against},
              {"cases", cases},
              {"samples", samples},
              {"control_samples", control_samples},
              {"timings_median_ms", timings}};
  for (const auto& [s, interval] : ratios) out["ratio_" + to_string(s)] = interval.to_json();
  return out;
}

namespace {

// Medians of the timings every target records, over the runs of one target in one mode.
json median_timings(const std::vector<const CaseResult*>& runs) {
  json out = json::object();
  for (const char* key : {"model_load_ms", "ready_ms", "start_ms", "boot_ms", "create_ms"}) {
    std::vector<double> values;
    for (const CaseResult* c : runs)
      if (c->timings.contains(key) && c->timings[key].is_number())
        values.push_back(c->timings[key].get<double>());
    if (!values.empty()) out[key] = statistic_of(values, Statistic::kP50);
  }
  return out;
}

}  // namespace

std::vector<OverheadFigure> overhead_figures(const std::vector<CaseResult>& cases,
                                             const BootstrapOptions& options) {
  // scenario -> target (first-seen order) -> mode -> case -> samples
  using Samples = std::map<std::string, std::vector<double>>;
  std::vector<std::string> scenarios;
  std::map<std::string, std::vector<std::string>> targets;
  std::map<std::string, std::map<std::string, std::map<EnforcerMode, Samples>>> benign;
  std::map<std::string,
           std::map<std::string, std::map<EnforcerMode, std::vector<const CaseResult*>>>>
      runs;
  for (const CaseResult& c : cases) {
    if (!c.attack.empty() || c.role == "reference-control") continue;
    if (std::find(scenarios.begin(), scenarios.end(), c.scenario) == scenarios.end())
      scenarios.push_back(c.scenario);
    auto& order = targets[c.scenario];
    if (std::find(order.begin(), order.end(), c.target) == order.end()) order.push_back(c.target);
    runs[c.scenario][c.target][c.mode].push_back(&c);
    if (c.verdict != Verdict::kAllowed || !c.latency || c.latency->samples_us.empty()) continue;
    auto& samples = benign[c.scenario][c.target][c.mode][c.case_name];
    samples.insert(samples.end(), c.latency->samples_us.begin(), c.latency->samples_us.end());
  }
  std::vector<OverheadFigure> out;
  const auto figure = [&](const std::string& scenario, const std::string& target, EnforcerMode mode,
                          const std::string& against, const Samples& treated,
                          const Samples& control) {
    OverheadFigure f{
        scenario, target, mode, against, {}, 0, 0, 0, median_timings(runs[scenario][target][mode])};
    std::vector<Stratum> strata;
    for (const auto& [name, samples] : treated) {
      const auto base = control.find(name);
      if (base == control.end()) continue;
      strata.push_back({samples, base->second});
      f.cases += 1;
      f.samples += samples.size();
      f.control_samples += base->second.size();
    }
    for (Statistic s : {Statistic::kP50, Statistic::kP95, Statistic::kP99, Statistic::kMean})
      if (auto interval = bootstrap_ratio(strata, s, options)) f.ratios.emplace_back(s, *interval);
    if (!f.ratios.empty()) out.push_back(std::move(f));
  };
  for (const std::string& scenario : scenarios) {
    const auto& order = targets[scenario];
    for (const std::string& target : order) {
      auto& modes = benign[scenario][target];
      const auto off = modes.find(EnforcerMode::kOff);
      for (const auto& [mode, treated] : modes)
        if (mode != EnforcerMode::kOff && off != modes.end())
          figure(scenario, target, mode, "off", treated, off->second);
      if (target == order.front()) continue;
      for (const auto& [mode, treated] : modes) {
        const auto& first = benign[scenario][order.front()];
        const auto base = first.find(mode);
        if (base != first.end())
          figure(scenario, target, mode, "target " + order.front(), treated, base->second);
      }
    }
  }
  return out;
}

json GateResult::to_json() const {
  json out = {{"scenario", scenario},
              {"gate", gate},
              {"passed", passed},
              {"evaluated", evaluated},
              {"detail", detail}};
  if (inconclusive) out["inconclusive"] = true;
  return out;
}

std::vector<TimeBreakdown> time_breakdown(const std::vector<CaseResult>& cases) {
  std::map<std::string, TimeBreakdown> by_kind;
  std::map<std::string, std::vector<double>> durations;
  const auto ms = [](const json& timings, const char* key) {
    const json v = timings.value(key, json());
    return v.is_number() ? v.get<double>() / 1000.0 : 0.0;
  };
  for (const CaseResult& c : cases) {
    if (c.verdict == Verdict::kNotRun) continue;  // never launched: no time to account for
    const json& t = c.timings;
    const double server_start = std::max(0.0, ms(t, "ready_ms") - ms(t, "start_ms"));
    const double spans[] = {ms(t, "prepare_ms"),
                            ms(t, "launch_ms"),
                            server_start,
                            ms(t, "serve_ms"),
                            ms(t, "attack_ms") + ms(t, "observe_ms"),
                            ms(t, "stop_ms")};
    double accounted = 0;
    for (double s : spans) accounted += s;
    for (const std::string& kind : {c.target_kind, std::string("all")}) {
      TimeBreakdown& b = by_kind[kind];
      if (b.phases.empty()) {
        b.target_kind = kind;
        b.phases = {{"prepare", true},   {"launch", true},  {"server-start", false},
                    {"requests", false}, {"attack", false}, {"stop", true},
                    {"other", true}};
      }
      ++b.runs;
      b.seconds += c.duration_s;
      durations[kind].push_back(c.duration_s);
      for (std::size_t i = 0; i < std::size(spans); ++i) b.phases[i].seconds += spans[i];
      b.phases.back().seconds += std::max(0.0, c.duration_s - accounted);
      if (t.contains("enforcer_load_ms")) {
        ++b.enforcer_loads;
        b.enforcer_load_s += ms(t, "enforcer_load_ms");
      }
    }
  }
  std::vector<TimeBreakdown> out;
  for (auto& [kind, b] : by_kind) {
    std::vector<double>& d = durations[kind];
    std::sort(d.begin(), d.end());
    b.median_run_s = percentile(d, 0.5);
    double harness = 0, total = 0;
    for (const TimeBreakdown::Phase& p : b.phases) {
      total += p.seconds;
      if (p.harness) harness += p.seconds;
    }
    b.harness_share = total > 0 ? harness / total : 0;
    if (kind != "all") out.push_back(std::move(b));
  }
  if (by_kind.count("all")) out.push_back(std::move(by_kind["all"]));
  return out;
}

json TimeBreakdown::to_json() const {
  json p = json::array();
  for (const Phase& phase : phases)
    p.push_back({{"phase", phase.name},
                 {"harness", phase.harness},
                 {"seconds", phase.seconds},
                 {"share", seconds > 0 ? phase.seconds / seconds : 0.0}});
  return {{"target_kind", target_kind},
          {"runs", runs},
          {"seconds", seconds},
          {"median_run_s", median_run_s},
          {"phases", p},
          {"harness_share", harness_share},
          {"enforcer_loads", enforcer_loads},
          {"enforcer_load_s", enforcer_load_s}};
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
    // Overhead: the enforced modes against off, per target; judged on the interval.
    if (gate.max_overhead_p50 || gate.max_overhead_p99) {
      const std::vector<OverheadFigure> figures = overhead_figures(own);
      for (const TargetSpec& t : scenario.targets) {
        if (t.reference_only) continue;
        for (EnforcerMode mode : scenario.enforcer.modes) {
          if (mode == EnforcerMode::kOff) continue;
          const OverheadFigure* figure = nullptr;
          for (const OverheadFigure& f : figures)
            if (f.target == t.name && f.mode == mode && f.against == "off") figure = &f;
          const auto judge = [&](const char* name, Statistic statistic, double threshold) {
            const std::string id = std::string(name) + "." + to_string(mode) + "[" + t.name + "]";
            const Interval* ratio = figure ? figure->ratio(statistic) : nullptr;
            if (!ratio) {
              const bool optional_absent =
                  t.optional && std::none_of(own.begin(), own.end(), [&](const CaseResult& c) {
                    return c.target == t.name && c.verdict != Verdict::kNotRun;
                  });
              if (!optional_absent)
                gates.push_back({scenario.name, id, true, false,
                                 "not evaluated: no benign case of target " + t.name +
                                     " was served with latency samples in both off and " +
                                     to_string(mode) + " mode"});
              return;
            }
            char text[200];
            std::snprintf(text, sizeof text,
                          "%s ratio %.3f [95%% CI %.3f, %.3f] over %d case(s), %zu/%zu samples, "
                          "threshold %.3f",
                          to_string(statistic).c_str(), ratio->estimate, ratio->low, ratio->high,
                          figure->cases, figure->samples, figure->control_samples, threshold);
            GateResult g{scenario.name, id, true, true, text};
            switch (ratio->against(threshold)) {
              case Interval::Side::kBelow:
                break;
              case Interval::Side::kAbove:
                g.passed = false;
                g.detail += ": FAILED (the whole interval is above)";
                break;
              case Interval::Side::kStraddles:
                g.inconclusive = true;
                g.passed = !gate.fail_inconclusive;
                g.detail +=
                    std::string(": INCONCLUSIVE (the interval straddles it; on_inconclusive = ") +
                    (gate.fail_inconclusive ? "fail)" : "pass)");
                break;
            }
            gates.push_back(g);
          };
          if (gate.max_overhead_p50)
            judge("max_overhead_p50", Statistic::kP50, *gate.max_overhead_p50);
          if (gate.max_overhead_p99)
            judge("max_overhead_p99", Statistic::kP99, *gate.max_overhead_p99);
        }
      }
    }
    if (gate.require_backend) {
      int enforced = 0;
      std::vector<std::string> other;
      for (const CaseResult& c : own) {
        if (c.mode == EnforcerMode::kOff || c.verdict == Verdict::kNotRun) continue;
        ++enforced;
        const std::string backend = c.enforcer.value("backend", "");
        if (backend != *gate.require_backend)
          other.push_back(c.id() + " ran " +
                          (backend.empty() ? std::string("no enforcer") : backend));
      }
      GateResult g{scenario.name, "require_backend", other.empty(), enforced > 0, ""};
      if (!enforced)
        g.detail = "not evaluated: no run had the enforcer on";
      else if (other.empty())
        g.detail = std::to_string(enforced) + " enforced run(s) on " + *gate.require_backend;
      else
        g.detail = std::to_string(other.size()) + " of " + std::to_string(enforced) +
                   " enforced run(s) not on " + *gate.require_backend + ": " + other.front() +
                   (other.size() > 1 ? "; ..." : "") + " FAILED";
      gates.push_back(g);
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
  json overhead_json = json::array();
  for (const OverheadFigure& f : overhead) overhead_json.push_back(f.to_json());
  return {{"schema", kResultsSchema},
          {"run", run},
          {"host", host},
          {"scenarios", scenarios},
          {"cases", cases_json},
          {"summary",
           {{"by_target_mode", summary_json},
            {"overhead", overhead_json},
            {"time",
             [&] {
               json t = json::array();
               for (const TimeBreakdown& b : time) t.push_back(b.to_json());
               return t;
             }()},
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
