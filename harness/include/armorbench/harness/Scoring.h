// Scoring: from what was observed in one case run to its verdict (README "Scoring").
// A pure function over plain data, so every rule is unit-tested without a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/attacks/Attack.h"
#include "armorbench/base/Evidence.h"
#include "armorbench/harness/Scenario.h"

namespace armorbench {

// Whether the model server still served after the attack: alive, ready, and answering a
// reference request correctly.
struct Availability {
  bool kept = false;
  std::string detail;
};

struct Observation {
  // Serving (benign cases; recorded for attack cases too).
  bool server_ready = false;
  std::string serve_failure;  // why the server was not ready / a request failed
  int requests_sent = 0;
  int requests_correct = 0;
  // How the workload ended on its own before the harness stopped it (a crash, an OOM kill, an
  // exit), with what the target knows of why; "" when it ran until stopped.
  std::string crash;
  bool oom_killed = false;  // the kernel's OOM killer acted in the workload's cgroup

  // Attack objective, as observed by the harness (file, listener, pool, dump, exec watch).
  bool objective_reached = false;
  bool objective_attempted = false;  // the attempt ran its course (see ObjectiveStatus)
  std::string objective_detail;

  // The operations the attack needs (attribution), what refused an operation (enforcer block
  // events, kernel refusals, the attacker's own EPERM) and what only recorded one (audit).
  std::vector<attacks::ExpectedOperation> expected;
  std::vector<attacks::Denial> denials;
  std::vector<attacks::Denial> records;
  std::uint64_t events_dropped = 0;

  std::optional<Availability> service;  // attack cases: after the attack
};

// The positive controls a run is judged against: the same attack with enforcement off on the
// same target, and on the scenario's reference target (a plain container) when this target is
// not its own reference.
struct Controls {
  std::optional<Verdict> same_target;
  std::optional<Verdict> reference;
  std::string reference_target;  // "" when the target is its own reference
};

struct Score {
  Verdict verdict = Verdict::kError;
  std::string reason;
  // The denials and records of the operations the attack needed (what the verdict rests on).
  std::vector<attacks::Denial> attributed;
  int unattributed = 0;            // denials and records of other operations (not counted)
  bool enforcer_recorded = false;  // an attributed denial or record is the enforcer's own
  std::optional<bool> service_kept;
};

Score score_case(const CaseSpec& c, EnforcerMode mode, const Observation& observation,
                 const Controls& controls);

}  // namespace armorbench
