// Scoring: from what was observed in one case run to its verdict (README "Scoring").
// A pure function over plain data, so every rule is unit-tested without a kernel.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Evidence.h"
#include "armorbench/harness/Scenario.h"

namespace armorbench {

struct Observation {
  // Serving (benign cases; recorded for attack cases too).
  bool server_ready = false;
  std::string serve_failure;  // why the server was not ready / a request failed
  int requests_sent = 0;
  int requests_correct = 0;

  // Attack objective, as observed by the harness (file, listener, pool, dump, cgroup).
  bool objective_reached = false;
  std::string objective_detail;  // what was (or was not) seen

  // Denials: enforcer events with action "block", and kernel evidence (cgroup limits hit,
  // a process killed by the enforcer's SIGKILL, EPERM seen by the attacker).
  int enforcer_denials = 0;
  int enforcer_audits = 0;  // events with action "audit"
  int enforcer_events_dropped = 0;
  std::vector<std::string> kernel_denials;
};

struct Score {
  Verdict verdict = Verdict::kError;
  std::string reason;
};

// `positive_control` is the verdict of the same attack on the same target with enforcement off
// (nullopt for benign cases and for the control run itself).
Score score_case(const CaseSpec& c, EnforcerMode mode, const Observation& observation,
                 std::optional<Verdict> positive_control);

}  // namespace armorbench
