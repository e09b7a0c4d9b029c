// Names of the scenario model's enums (as written in TOML and in results) and default expectations.
#include "armorbench/harness/Scenario.h"

namespace armorbench {

std::string to_string(TargetKind kind) {
  switch (kind) {
    case TargetKind::kRunc:
      return "runc";
    case TargetKind::kCrun:
      return "crun";
    case TargetKind::kKata:
      return "kata";
    case TargetKind::kCvm:
      return "cvm";
  }
  return "?";
}

std::string to_string(NetworkMode mode) {
  return mode == NetworkMode::kHost ? "host" : "none";
}

std::string to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllowed:
      return "allowed";
    case Verdict::kDisrupted:
      return "disrupted";
    case Verdict::kBlocked:
      return "blocked";
    case Verdict::kDetected:
      return "detected";
    case Verdict::kReached:
      return "reached";
    case Verdict::kPrevented:
      return "prevented";
    case Verdict::kInvalid:
      return "invalid";
    case Verdict::kNotRun:
      return "not-run";
    case Verdict::kError:
      return "error";
  }
  return "?";
}

std::optional<Verdict> verdict_from_string(const std::string& text) {
  for (Verdict v : {Verdict::kAllowed, Verdict::kDisrupted, Verdict::kBlocked, Verdict::kDetected,
                    Verdict::kReached, Verdict::kPrevented, Verdict::kInvalid, Verdict::kNotRun,
                    Verdict::kError})
    if (to_string(v) == text) return v;
  return std::nullopt;
}

Verdict expected_verdict(const CaseSpec& c, EnforcerMode mode, const std::string& target) {
  if (auto on = c.expect_on.find(target); on != c.expect_on.end())
    if (auto it = on->second.find(mode); it != on->second.end()) return it->second;
  if (auto it = c.expect.find(mode); it != c.expect.end()) return it->second;
  if (!c.is_attack()) return Verdict::kAllowed;
  switch (mode) {
    case EnforcerMode::kOff:
      return Verdict::kReached;
    case EnforcerMode::kAudit:
      return Verdict::kDetected;
    case EnforcerMode::kBlock:
      return Verdict::kBlocked;
  }
  return Verdict::kBlocked;
}

const TargetSpec* reference_of(const Scenario& scenario, const TargetSpec& target) {
  if (target.reference.empty()) return nullptr;
  for (const TargetSpec& t : scenario.targets)
    if (t.name == target.reference) return &t;
  return nullptr;
}

}  // namespace armorbench
