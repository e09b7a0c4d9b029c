// The scoring rules, one test per rule of README "Scoring".
#include "armorbench/harness/Scoring.h"

#include <gtest/gtest.h>

#include "armorbench/base/TomlTable.h"

namespace armorbench {
namespace {

using attacks::Denial;
using attacks::ExpectedOperation;

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

// An attack run that needs the exec of /bin/sh.
Observation attack(bool reached) {
  Observation o = served(4, 4);
  o.objective_reached = reached;
  o.objective_detail = reached ? "a shell ran" : "a shell ran not observed";
  o.expected = {{Operation::kExec, "/bin/sh", "the gadget runs a shell"}};
  o.service = Availability{true, "ready and answering"};
  return o;
}

Denial enforcer_block(Operation op, std::string resource) {
  return {"enforcer (tracepoint)",
          op,
          std::move(resource),
          "rule no-shells, sigkill",
          true,
          {},
          "no-shells"};
}

Denial enforcer_audit(Operation op, std::string resource) {
  return {
      "enforcer (tracepoint)", op, std::move(resource), "rule no-shells", false, {}, "no-shells"};
}

const Controls kControlReached{Verdict::kReached, std::nullopt, ""};

TEST(Scoring, BenignServedCorrectlyIsAllowed) {
  EXPECT_EQ(score_case(CaseSpec{}, EnforcerMode::kBlock, served(8, 8), {}).verdict,
            Verdict::kAllowed);
}

TEST(Scoring, BenignWithAWrongAnswerIsDisrupted) {
  const Score s = score_case(CaseSpec{}, EnforcerMode::kBlock, served(8, 7), {});
  EXPECT_EQ(s.verdict, Verdict::kDisrupted);
  EXPECT_NE(s.reason.find("1/8"), std::string::npos) << s.reason;
}

TEST(Scoring, BenignThatFailsWithoutEnforcementIsAnErrorNotAFalsePositive) {
  Observation o;
  o.serve_failure = "load_failed: TypeError: file holds list, not an nn.Module";
  const Score s = score_case(CaseSpec{}, EnforcerMode::kOff, o, {});
  EXPECT_EQ(s.verdict, Verdict::kError);
  EXPECT_NE(s.reason.find("file holds list"), std::string::npos) << s.reason;
}

TEST(Scoring, ABenignWorkloadThatDiedWithNoDenialIsATargetFailureNotADisruption) {
  Observation o = served(8, 3);
  o.serve_failure = "connection reset";
  o.crash = "killed by signal 9; the kernel's OOM killer killed 1 process(es) of its cgroup";
  const Score s = score_case(CaseSpec{}, EnforcerMode::kBlock, o, {});
  EXPECT_EQ(s.verdict, Verdict::kError);
  EXPECT_NE(s.reason.find("OOM killer"), std::string::npos) << s.reason;
  EXPECT_NE(s.reason.find("not the enforcement"), std::string::npos) << s.reason;

  o.oom_killed = true;
  o.denials = {enforcer_block(Operation::kOpen, "/etc/ld.so.cache")};
  EXPECT_EQ(score_case(CaseSpec{}, EnforcerMode::kBlock, o, {}).verdict, Verdict::kError)
      << "the OOM killer, not an unrelated refusal, ended it";

  o.oom_killed = false;
  o.crash = "killed by SIGSYS";
  o.denials = {{"kernel (seccomp, profile default)",
                Operation::kOther,
                "syscall 165",
                "mount",
                true,
                {},
                ""}};
  EXPECT_EQ(score_case(CaseSpec{}, EnforcerMode::kBlock, o, {}).verdict, Verdict::kError)
      << "the runtime's profile applies in every mode: not the enforcement's doing";

  o.denials.clear();
  o.events_dropped = 3;  // a refusal may have been among the lost events
  EXPECT_EQ(score_case(CaseSpec{}, EnforcerMode::kBlock, o, {}).verdict, Verdict::kInvalid);

  o.events_dropped = 0;
  o.crash = "killed by SIGKILL";
  o.denials = {enforcer_block(Operation::kOpen, "/etc/ld.so.cache")};
  const Score denied = score_case(CaseSpec{}, EnforcerMode::kBlock, o, {});
  EXPECT_EQ(denied.verdict, Verdict::kDisrupted) << "the enforcer's refusal explains the death";
  EXPECT_NE(denied.reason.find("/etc/ld.so.cache"), std::string::npos) << denied.reason;

  Observation off = served(8, 3);
  off.crash = "exited with status 1";
  const Score control = score_case(CaseSpec{}, EnforcerMode::kOff, off, {});
  EXPECT_EQ(control.verdict, Verdict::kError);
  EXPECT_NE(control.reason.find("ended on its own: exited with status 1"), std::string::npos)
      << control.reason;
}

TEST(Scoring, PositiveControlThatReachesIsReached) {
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, attack(true), {}).verdict,
            Verdict::kReached);
}

TEST(Scoring, PositiveControlThatMissesIsInvalid) {
  const Score s = score_case(attack_case(), EnforcerMode::kOff, attack(false), {});
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("positive control"), std::string::npos) << s.reason;
}

TEST(Scoring, BlockedNeedsADenialOfTheOperationTheAttackNeeded) {
  Observation o = attack(false);
  o.denials = {enforcer_block(Operation::kExec, "/bin/sh")};
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kBlocked);
  ASSERT_EQ(s.attributed.size(), 1u);
  EXPECT_TRUE(s.enforcer_recorded);
  EXPECT_NE(s.reason.find("exec /bin/sh by enforcer (tracepoint)"), std::string::npos) << s.reason;
}

TEST(Scoring, AnUnrelatedDenialDoesNotMakeAFailedAttackBlocked) {
  // A late objective, a crash or a flake, plus a denial of something else: not attributable.
  Observation o = attack(false);
  o.denials = {enforcer_block(Operation::kOpen, "/etc/shadow")};
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_EQ(s.unattributed, 1);
  EXPECT_NE(s.reason.find("exec /bin/sh"), std::string::npos) << s.reason;
}

TEST(Scoring, ALinkedPathIsTheSameOperation) {
  Observation o = attack(false);
  o.denials = {enforcer_block(Operation::kExec, std::filesystem::canonical("/bin/sh").string())};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached).verdict,
            Verdict::kBlocked);
}

TEST(Scoring, ReachedDespiteADenialIsReached) {
  Observation o = attack(true);
  o.denials = {enforcer_block(Operation::kExec, "/bin/sh")};
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kReached);
  EXPECT_NE(s.reason.find("despite"), std::string::npos) << s.reason;
}

TEST(Scoring, DetectedNeedsAnEnforcerRecordOfTheOperation) {
  Observation o = attack(true);
  o.records = {enforcer_audit(Operation::kConnect, "127.0.0.1:80")};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kAudit, o, kControlReached).verdict,
            Verdict::kReached);
  o.records.push_back(enforcer_audit(Operation::kExec, "/bin/sh"));
  const Score s = score_case(attack_case(), EnforcerMode::kAudit, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kDetected);
  EXPECT_EQ(s.unattributed, 1);
}

TEST(Scoring, AKernelLimitInAuditModeBlocksButIsNoDetection) {
  CaseSpec c = attack_case();
  Observation o = attack(false);
  o.expected = {{Operation::kFork, "pids.max", "forks beyond the limit"}};
  o.denials = {{"kernel (pids controller)",
                Operation::kFork,
                "pids.max",
                "refused 3",
                true,
                {},
                "pids.max"}};
  const Score s = score_case(c, EnforcerMode::kAudit, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kBlocked);
  EXPECT_FALSE(s.enforcer_recorded);
}

TEST(Scoring, DroppedEventsLeaveAReachedAttackReached) {
  Observation o = attack(true);
  o.events_dropped = 12;
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kReached);
  EXPECT_NE(s.reason.find("12 enforcer event(s) were dropped"), std::string::npos) << s.reason;
}

TEST(Scoring, DroppedEventsWithoutAMatchingDenialAreInvalid) {
  Observation o = attack(false);
  o.events_dropped = 3;
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("dropped"), std::string::npos) << s.reason;
  // A denial that was kept still backs the block.
  o.denials = {enforcer_block(Operation::kExec, "/bin/sh")};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached).verdict,
            Verdict::kBlocked);
}

TEST(Scoring, EnforcedRunWithoutAValidControlIsInvalid) {
  Observation o = attack(false);
  o.denials = {enforcer_block(Operation::kExec, "/bin/sh")};
  const Score s = score_case(attack_case(), EnforcerMode::kBlock, o,
                             Controls{Verdict::kInvalid, std::nullopt, ""});
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("no valid positive control"), std::string::npos) << s.reason;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, Controls{}).verdict,
            Verdict::kInvalid);
}

TEST(Scoring, ABlockSaysWhetherTheServiceSurvived) {
  Observation o = attack(false);
  o.denials = {enforcer_block(Operation::kExec, "/bin/sh")};
  Score kept = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(kept.service_kept, true);
  EXPECT_NE(kept.reason.find("service kept"), std::string::npos) << kept.reason;
  o.service = Availability{false, "the model server never became ready"};
  Score lost = score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached);
  EXPECT_EQ(lost.verdict, Verdict::kBlocked);
  EXPECT_EQ(lost.service_kept, false);
  EXPECT_NE(lost.reason.find("service lost (the model server never became ready)"),
            std::string::npos)
      << lost.reason;
}

TEST(Scoring, IsolationIsPreventedWhenTheReferenceReachedAndTheAttemptRanItsCourse) {
  Observation o = attack(false);
  o.objective_detail = "canary not found: the memory was read and it is not there";
  o.objective_attempted = true;
  const Controls on_cvm{std::nullopt, Verdict::kReached, "kata"};
  const Score s = score_case(attack_case(), EnforcerMode::kOff, o, on_cvm);
  EXPECT_EQ(s.verdict, Verdict::kPrevented);
  EXPECT_NE(s.reason.find("kata"), std::string::npos) << s.reason;
  // The enforced run on the same target is prevented too: enforcement is not what stopped it.
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o,
                       Controls{Verdict::kPrevented, Verdict::kReached, "kata"})
                .verdict,
            Verdict::kPrevented);
}

TEST(Scoring, AFailureWithoutEvidenceOfTheAttemptIsNotCreditedToIsolation) {
  Observation o = attack(false);  // e.g. the payload never ran: nothing shows why
  const Score s = score_case(attack_case(), EnforcerMode::kOff, o,
                             Controls{std::nullopt, Verdict::kReached, "reference-runc"});
  EXPECT_EQ(s.verdict, Verdict::kInvalid);
  EXPECT_NE(s.reason.find("not credited to isolation"), std::string::npos) << s.reason;
  // Nor when the reference itself did not reach it.
  o.objective_attempted = true;
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, o,
                       Controls{std::nullopt, Verdict::kInvalid, "reference-runc"})
                .verdict,
            Verdict::kInvalid);
}

TEST(Scoring, AnAuditRecordInBlockModeIsNoBlock) {
  // Recorded but not refused: the objective failed for some other reason.
  Observation o = attack(false);
  o.records = {enforcer_audit(Operation::kExec, "/bin/sh")};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, kControlReached).verdict,
            Verdict::kInvalid);
}

TEST(Scoring, IsolationIsNotCreditedWhenSomethingRefusedTheAttempt) {
  Observation o = attack(false);
  o.objective_attempted = true;
  o.denials = {{"kernel (to the dumper)", Operation::kVmRead, "pid 7", "EPERM", true, {}, ""}};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, o,
                       Controls{std::nullopt, Verdict::kReached, "kata"})
                .verdict,
            Verdict::kInvalid);
}

// A target's own configuration (a seccomp profile) that refuses the very syscall the attack
// needs, with the kernel's record, blocks it without enforcement, against the reference's control;
// its enforced runs are then measured against that reference control too.
Denial seccomp_refusal(std::string syscall) {
  return {"kernel (seccomp)",
          Operation::kSyscall,
          std::move(syscall),
          "the runtime-default seccomp profile refused it",
          true,
          {},
          "seccomp runtime-default"};
}

TEST(Scoring, ASeccompRefusalOfTheNeededSyscallBlocksWithoutEnforcement) {
  Observation o = attack(false);
  o.expected.push_back({Operation::kSyscall, "unshare", "enters new namespaces"});
  o.denials = {seccomp_refusal("unshare")};
  const Controls reference{std::nullopt, Verdict::kReached, "runc"};
  const Score off = score_case(attack_case(), EnforcerMode::kOff, o, reference);
  EXPECT_EQ(off.verdict, Verdict::kBlocked) << off.reason;
  EXPECT_NE(off.reason.find("kernel (seccomp)"), std::string::npos) << off.reason;
  EXPECT_NE(off.reason.find("runc"), std::string::npos) << off.reason;
  // Enforced runs on the same target use the reference's control.
  const Controls blocked_here{Verdict::kBlocked, Verdict::kReached, "runc"};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, blocked_here).verdict,
            Verdict::kBlocked);
  Observation through = attack(true);
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, through, blocked_here).verdict,
            Verdict::kReached);
}

TEST(Scoring, ASeccompRefusalOfAnotherSyscallOrWithoutAReferenceBlocksNothing) {
  Observation o = attack(false);
  o.denials = {seccomp_refusal("bpf")};  // not an operation this attack needs
  const Controls reference{std::nullopt, Verdict::kReached, "runc"};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, o, reference).verdict, Verdict::kInvalid);
  o.expected.push_back({Operation::kSyscall, "bpf", "loads a program"});
  // No reference that reached: nothing shows the attack works at all.
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, o, {}).verdict, Verdict::kInvalid);
  const Controls reference_invalid{std::nullopt, Verdict::kInvalid, "runc"};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kOff, o, reference_invalid).verdict,
            Verdict::kInvalid);
  // An enforced run whose own control was invalid (not blocked) stays invalid.
  const Controls invalid_here{Verdict::kInvalid, Verdict::kReached, "runc"};
  EXPECT_EQ(score_case(attack_case(), EnforcerMode::kBlock, o, invalid_here).verdict,
            Verdict::kInvalid);
}

}  // namespace
}  // namespace armorbench
