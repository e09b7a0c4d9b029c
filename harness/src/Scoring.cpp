// The scoring rules (README "Scoring"). Every verdict comes from observed objectives and from
// denials of the very operations the attack needed, never from an exit code alone or from an
// unrelated denial; anything that cannot be attributed is `invalid`, with the reason.
#include "armorbench/harness/Scoring.h"

#include <algorithm>

namespace armorbench {
namespace {

using attacks::Denial;

bool is_enforcer(const Denial& d) {
  return d.by.rfind("enforcer", 0) == 0;
}

std::string describe(const Denial& d) {
  return std::string(d.refused ? "" : "recorded: ") + to_string(d.operation) +
         (d.resource.empty() ? "" : " " + d.resource) + " by " + d.by +
         (d.detail.empty() ? "" : " (" + d.detail + ")");
}

std::string describe(const std::vector<Denial>& denials, std::size_t limit = 3) {
  std::string text;
  for (std::size_t i = 0; i < denials.size() && i < limit; ++i)
    text += (i ? "; " : "") + describe(denials[i]);
  if (denials.size() > limit) text += "; and " + std::to_string(denials.size() - limit) + " more";
  return text;
}

std::string describe(const std::vector<attacks::ExpectedOperation>& expected) {
  if (expected.empty()) return "none declared";
  std::string text;
  for (const auto& op : expected)
    text += (text.empty() ? "" : ", ") + to_string(op.operation) +
            (op.resource.empty() ? "" : " " + op.resource);
  return text;
}

bool attributable(const Observation& o, const Denial& d) {
  return std::any_of(
      o.expected.begin(), o.expected.end(),
      [&](const attacks::ExpectedOperation& op) { return op.matches(d.operation, d.resource); });
}

std::string availability(const Observation& o) {
  if (!o.service) return "";
  return o.service->kept ? "; service kept" : "; service lost (" + o.service->detail + ")";
}

Score verdict_only(Verdict verdict, std::string reason) {
  Score score;
  score.verdict = verdict;
  score.reason = std::move(reason);
  return score;
}

Score score_benign(EnforcerMode mode, const Observation& o) {
  const bool served =
      o.server_ready && o.requests_sent > 0 && o.requests_correct == o.requests_sent;
  if (served)
    return verdict_only(Verdict::kAllowed, "served " + std::to_string(o.requests_correct) + "/" +
                                               std::to_string(o.requests_sent) +
                                               " requests correctly");
  std::string why = !o.server_ready ? o.serve_failure
                                    : std::to_string(o.requests_sent - o.requests_correct) + "/" +
                                          std::to_string(o.requests_sent) +
                                          " requests failed or answered wrongly" +
                                          (o.serve_failure.empty() ? "" : ": " + o.serve_failure);
  // Without enforcement nothing should break a benign model (limits apply in every mode): that
  // is a setup fault or a model the server cannot serve, not a false positive.
  if (!o.crash.empty()) why += "; the workload ended on its own: " + o.crash;
  if (mode == EnforcerMode::kOff)
    return verdict_only(Verdict::kError, "benign case fails without enforcement: " + why);
  // A disruption is the enforcement's doing: a workload the OOM killer ended, or one that died
  // with no refusal of the enforcer's recorded (a crash, the runtime's seccomp profile, which
  // applies in every mode), is a target failure; with events lost nothing can be said.
  const bool enforcer_refused =
      std::any_of(o.denials.begin(), o.denials.end(),
                  [](const Denial& d) { return d.refused && is_enforcer(d); });
  if (!o.crash.empty() && (o.oom_killed || !enforcer_refused)) {
    if (!o.oom_killed && o.events_dropped > 0)
      return verdict_only(Verdict::kInvalid,
                          why + "; no denial recorded, but " + std::to_string(o.events_dropped) +
                              " enforcer events were lost: whether enforcement caused it is "
                              "unknown");
    return verdict_only(Verdict::kError,
                        std::string("the target failed, not the enforcement (") +
                            (o.oom_killed ? "the kernel's OOM killer ended it"
                                          : "no refusal of the enforcer was recorded") +
                            "): " + why);
  }
  if (!o.denials.empty()) why += " (" + describe(o.denials) + ")";
  return verdict_only(Verdict::kDisrupted, why);
}

// The off run: the attack's positive control on this target, or the measure of its isolation.
Score score_control(const Observation& o, const Controls& controls) {
  if (o.objective_reached) return verdict_only(Verdict::kReached, o.objective_detail);
  if (!controls.reference_target.empty() && controls.reference == Verdict::kReached) {
    // The target's own configuration (a seccomp profile) refused the very operation the attack
    // needs, with kernel evidence: blocked without enforcement, against the reference's control.
    std::vector<Denial> refusals;
    for (const Denial& d : o.denials)
      if (d.refused && !is_enforcer(d) && attributable(o, d)) refusals.push_back(d);
    if (!refusals.empty())
      return verdict_only(
          Verdict::kBlocked,
          "blocked by the target's configuration without enforcement: " + describe(refusals) +
              "; the same attack reached its objective on " + controls.reference_target +
              " (objective here: " + o.objective_detail + ")");
    if (o.objective_attempted && o.denials.empty())
      return verdict_only(Verdict::kPrevented,
                          "isolation: the same attack reached its objective on " +
                              controls.reference_target +
                              " without enforcement; here the attempt ran its course "
                              "and failed (" +
                              o.objective_detail + ")");
    return verdict_only(
        Verdict::kInvalid,
        "not reached here (" + o.objective_detail + ") although it was on " +
            controls.reference_target +
            ", and nothing shows the attempt ran its course: not credited to isolation");
  }
  return verdict_only(
      Verdict::kInvalid,
      "positive control: the attack did not reach its objective without enforcement (" +
          o.objective_detail + ")" +
          (controls.reference_target.empty()
               ? ""
               : "; on the reference target " + controls.reference_target + " it was " +
                     (controls.reference ? to_string(*controls.reference) : "not run")) +
          "; excluded from rates");
}

}  // namespace

Score score_case(const CaseSpec& c, EnforcerMode mode, const Observation& o,
                 const Controls& controls) {
  if (!c.is_attack()) return score_benign(mode, o);

  Score score;
  for (const Denial& d : o.denials) {
    if (!attributable(o, d)) {
      ++score.unattributed;
      continue;
    }
    score.attributed.push_back(d);
    score.enforcer_recorded = score.enforcer_recorded || is_enforcer(d);
  }
  std::vector<Denial> recorded;
  for (const Denial& d : o.records) {
    if (!attributable(o, d)) {
      ++score.unattributed;
      continue;
    }
    recorded.push_back(d);
    score.enforcer_recorded = score.enforcer_recorded || is_enforcer(d);
  }
  if (o.service) score.service_kept = o.service->kept;
  const std::string service = availability(o);
  const std::string dropped =
      o.events_dropped ? "; " + std::to_string(o.events_dropped) + " enforcer event(s) were dropped"
                       : "";
  const std::string unrelated = score.unattributed
                                    ? "; " + std::to_string(score.unattributed) +
                                          " denial(s)/record(s) of other operations not counted"
                                    : "";
  auto done = [&](Verdict verdict, std::string reason) {
    score.verdict = verdict;
    score.reason = std::move(reason);
    return score;
  };

  if (mode == EnforcerMode::kOff) {
    const Score control = score_control(o, controls);
    return done(control.verdict, control.reason + service);
  }

  if (controls.same_target == Verdict::kPrevented) {
    if (o.objective_reached) return done(Verdict::kReached, o.objective_detail + service);
    return done(Verdict::kPrevented,
                "the target's isolation stops this attack without enforcement (its off run was "
                "prevented); enforcement is not measured here (" +
                    o.objective_detail + ")" + service);
  }
  // A target whose own configuration blocks the attack without enforcement is measured against
  // its reference's positive control (the same attack on the configuration without that layer).
  const bool control_on_reference =
      controls.same_target == Verdict::kBlocked && controls.reference == Verdict::kReached;
  if (controls.same_target != Verdict::kReached && !control_on_reference)
    return done(
        Verdict::kInvalid,
        "no valid positive control (the same attack without enforcement was " +
            (controls.same_target ? to_string(*controls.same_target) : std::string("not run")) +
            "); excluded from rates");

  if (o.objective_reached) {
    score.attributed.insert(score.attributed.end(), recorded.begin(), recorded.end());
    if (mode == EnforcerMode::kAudit && score.enforcer_recorded)
      return done(Verdict::kDetected,
                  o.objective_detail + "; " + describe(score.attributed) + unrelated + service);
    std::string reason = o.objective_detail;
    if (mode == EnforcerMode::kAudit)
      reason += "; no enforcer event of the operations it needs (" + describe(o.expected) +
                ") was recorded: not detected";
    else if (!score.attributed.empty())
      reason += "; despite " + describe(score.attributed);
    return done(Verdict::kReached, reason + unrelated + dropped + service);
  }

  if (!score.attributed.empty())
    return done(Verdict::kBlocked, "objective not reached (" + o.objective_detail + "); " +
                                       describe(score.attributed) + unrelated + service);
  return done(Verdict::kInvalid,
              "objective not reached (" + o.objective_detail +
                  ") but no denial of the operations it needs (" + describe(o.expected) +
                  ") was recorded" +
                  (o.events_dropped ? " and " + std::to_string(o.events_dropped) +
                                          " enforcer event(s) were dropped, so one may be lost"
                                    : "") +
                  ": the outcome cannot be attributed to enforcement" + unrelated + service);
}

}  // namespace armorbench
