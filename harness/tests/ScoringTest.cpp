// The scoring rules, one test per rule of README "Scoring".
#include "armorbench/harness/Scoring.h"

#include "armorbench/base/TomlTable.h"

#include <gtest/gtest.h>

namespace armorbench {
namespace {

CaseSpec attack_case() {
  static const toml::table declared = toml::parse(R"(kind = "pickle-injection"
gadget = "os.system")");
  TomlTable table(declared, std::make_shared<const std::string>("scoring-test.toml"), "attack");
  CaseSpec c;
  c.name = "a";
  c.attack = attacks::parse_attack(table, {});
  return c;
}

Observation served(int sent, int correct) {
  Observation o;
  o.server_ready = true;
  o.requests_sent = sent;
  o.requests_correct = correct;
  return o;
}

TEST(Scoring, BenignServedCorrectlyIsAllowed) {
  EXPECT_EQ(score_case(CaseSpec{}, EnforcerMode::kBlock, served(8, 8), {}).verdict,
            Verdict::kAllowed);
}

TEST(Scoring, BenignWithAWrongAnswerIsDisrupted) {
  const Score s = score_case(CaseSpec{}, EnforcerMode::kBlock, served(8, 7), {});
  EXPECT_EQ(s.verdict, Verdict::kDisrupted);
  EXPECT_NE(s.reason.find("1/8"), std::string::npos) << s.reason;
}

TEST(Scoring, BenignNotReadyUnderEnforcementIsDisrupted) {
  Observation o;
  o.serve_failure = "model server exited before it was ready (killed by SIGKILL)";
  o.enforcer_denials = 1;
  const Score s = score_case(CaseSpec{}, EnforcerMode::kAudit, o, {});
  EXPECT_EQ(s.verdict, Verdict::kDisrupted);
  EXPECT_NE(s.reason.find("1 enforcer denial"), std::string::npos) << s.reason;
}

TEST(Scoring, BenignFailingWithoutEnforcementIsASetupError) {
  EXPECT_EQ(score_case(CaseSpec{}, EnforcerMode::kOff, served(4, 0), {}).verdict, Verdict::kError);
}

TEST(Scoring, PositiveControlReachedIsReached) {
  Observation o;
  o.objective_reached = true;
  o.objective_detail = "marker written";
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, o, {}).verdict, Verdict::kReached);
}

TEST(Scoring, PositiveControlNotReachedIsInvalid) {
  const Score s = score_case(attack_case(), EnforcerMode::kOff, Observation{}, {});
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("positive control"), std::string::npos);
}

TEST(Scoring, EnforcedRunWithoutValidControlIsInvalid) {
  Observation o;
  o.enforcer_denials = 1;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, Verdict::kInvalid).verdict,
            Verdict::kInvalid);
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, std::nullopt).verdict,
            Verdict::kInvalid);
}

TEST(Scoring, NotReachedWithDenialIsBlocked) {
  Observation o;
  o.enforcer_denials = 2;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, Verdict::kReached).verdict,
            Verdict::kBlocked);
}

TEST(Scoring, KernelDenialAloneAlsoBlocks) {
  Observation o;
  o.kernel_denials = {"pids.max refused 12 forks"};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, Verdict::kReached).verdict,
            Verdict::kBlocked);
}

TEST(Scoring, NotReachedWithoutDenialIsInvalidNotBlocked) {
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, Observation{}, Verdict::kReached);
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("no denial"), std::string::npos);
}

TEST(Scoring, ReachedUnderBlockIsReachedEvenWithDenials) {
  Observation o;
  o.objective_reached = true;
  o.enforcer_denials = 1;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, Verdict::kReached).verdict,
            Verdict::kReached);
}

TEST(Scoring, AuditModeReachedWithEventIsDetected) {
  Observation o;
  o.objective_reached = true;
  o.enforcer_audits = 1;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kAudit, o, Verdict::kReached).verdict,
            Verdict::kDetected);
  o.enforcer_audits = 0;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kAudit, o, Verdict::kReached).verdict,
            Verdict::kReached);
}

TEST(Scoring, DroppedEventsMakeAttackRunsInvalid) {
  Observation o;
  o.enforcer_denials = 1;
  o.enforcer_events_dropped = 3;
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o, Verdict::kReached);
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("dropped"), std::string::npos);
}

}  // namespace
}  // namespace armorbench
