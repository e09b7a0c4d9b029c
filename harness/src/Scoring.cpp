// The scoring rules. Every verdict comes from observed objectives and recorded denials, never
// from an exit code alone; anything that cannot be attributed is `invalid`, with the reason.
#include "armorbench/harness/Scoring.h"

namespace armorbench {
namespace {

std::string denial_summary(const Observation& o) {
  std::string text;
  if (o.enforcer_denials > 0) text = std::to_string(o.enforcer_denials) + " enforcer denial(s)";
  for (const auto& kernel : o.kernel_denials) text += (text.empty() ? "" : "; ") + kernel;
  return text;
}

Score score_benign(EnforcerMode mode, const Observation& o) {
  const bool served =
      o.server_ready && o.requests_sent > 0 && o.requests_correct == o.requests_sent;
  if (served)
    return {Verdict::kAllowed, "served " + std::to_string(o.requests_correct) + "/" +
                                   std::to_string(o.requests_sent) + " requests correctly"};
  std::string why = !o.server_ready ? o.serve_failure
                                    : std::to_string(o.requests_sent - o.requests_correct) + "/" +
                                          std::to_string(o.requests_sent) +
                                          " requests failed or answered wrongly" +
                                          (o.serve_failure.empty() ? "" : ": " + o.serve_failure);
  // Without enforcement nothing should break a benign model: that is a setup fault, not a
  // false positive.
  if (mode == EnforcerMode::kOff)
    return {Verdict::kError, "benign case fails without enforcement: " + why};
  if (o.enforcer_denials > 0) why += " (" + denial_summary(o) + ")";
  return {Verdict::kDisrupted, why};
}

}  // namespace

Score score_case(const CaseSpec& c, EnforcerMode mode, const Observation& o,
                 std::optional<Verdict> positive_control) {
  if (!c.is_attack()) return score_benign(mode, o);

  if (o.enforcer_events_dropped > 0)
    return {Verdict::kInvalid, std::to_string(o.enforcer_events_dropped) +
                                   " enforcer event(s) were dropped: denials cannot be attributed"};

  if (mode == EnforcerMode::kOff) {
    if (o.objective_reached) return {Verdict::kReached, o.objective_detail};
    return {Verdict::kInvalid,
            "positive control: the attack did not reach its objective without "
            "enforcement (" +
                o.objective_detail + "); excluded from rates"};
  }

  if (positive_control != Verdict::kReached)
    return {Verdict::kInvalid,
            "no valid positive control (the same attack without enforcement was " +
                (positive_control ? to_string(*positive_control) : std::string("not run")) +
                "); excluded from rates"};

  const bool denied = o.enforcer_denials > 0 || !o.kernel_denials.empty();
  if (o.objective_reached) {
    if (mode == EnforcerMode::kAudit && (o.enforcer_audits > 0 || o.enforcer_denials > 0))
      return {Verdict::kDetected, o.objective_detail + "; recorded by " +
                                      std::to_string(o.enforcer_audits + o.enforcer_denials) +
                                      " enforcer event(s)"};
    std::string reason = o.objective_detail;
    if (mode == EnforcerMode::kAudit) reason += "; no enforcer event recorded (not detected)";
    if (denied) reason += "; despite " + denial_summary(o);
    return {Verdict::kReached, reason};
  }
  if (denied)
    return {Verdict::kBlocked,
            "objective not reached (" + o.objective_detail + "); " + denial_summary(o)};
  return {Verdict::kInvalid, "objective not reached (" + o.objective_detail +
                                 ") but no denial was recorded: the block cannot be attributed to "
                                 "enforcement"};
}

}  // namespace armorbench
