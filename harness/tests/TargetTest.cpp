// What every sandbox derives from its enforcer report: which programs ran, and which the
// enforcer killed at their exec (item 1 of the verdict rules: an exec killed before its first
// instruction is not a program that ran).
#include <gtest/gtest.h>

#include <filesystem>

#include "armorbench/harness/Target.h"

namespace armorbench {
namespace {

using enforcer::EventAction;
using enforcer::EventRecord;

EventRecord exec_event(EventAction action, std::uint32_t tgid, std::string path) {
  EventRecord e;
  e.action = action;
  e.operation = Operation::kExec;
  e.tgid = tgid;
  e.pid = tgid;
  e.resource = std::move(path);
  if (action == EventAction::kBlock) {
    e.enforcement = enforcer::Enforcement::kSigkill;
    e.rule = "no-shells";
  }
  return e;
}

TEST(ExecutedPrograms, AnExecKilledAtTheExecDidNotRun) {
  enforcer::EnforcerReport report;
  report.events = {exec_event(EventAction::kBlock, 42, "/bin/sh"),
                   exec_event(EventAction::kObserve, 42, "/bin/sh"),
                   exec_event(EventAction::kObserve, 43, "/usr/bin/python3")};
  const auto programs = executed_programs_in(report);
  ASSERT_EQ(programs.size(), 2u);
  EXPECT_TRUE(programs[0].killed_at_exec);
  EXPECT_NE(programs[0].killed_by.find("no-shells"), std::string::npos) << programs[0].killed_by;
  EXPECT_FALSE(programs[1].killed_at_exec);
}

TEST(ExecutedPrograms, TheKillMatchesThroughLinksButOnlyTheSameProgram) {
  enforcer::EnforcerReport report;
  // The kill names the resolved file; the watch saw the link. Same exec.
  report.events = {exec_event(EventAction::kBlock, 7, std::filesystem::canonical("/bin/sh")),
                   exec_event(EventAction::kObserve, 7, "/bin/sh"),
                   // A process whose later exec was killed did run what it exec'd before.
                   exec_event(EventAction::kObserve, 8, "/usr/bin/python3"),
                   exec_event(EventAction::kBlock, 8, "/usr/bin/curl")};
  const auto programs = executed_programs_in(report);
  ASSERT_EQ(programs.size(), 2u);
  EXPECT_TRUE(programs[0].killed_at_exec);
  EXPECT_FALSE(programs[1].killed_at_exec) << "python3 ran; only its exec of curl was killed";
}

TEST(ExecutedPrograms, AnEpermRefusalIsNoExecAtAll) {
  // bpf-lsm refuses the exec with EPERM: the watch never sees it, and an audit is no kill.
  enforcer::EnforcerReport report;
  EventRecord audit = exec_event(EventAction::kAudit, 9, "/bin/sh");
  report.events = {audit, exec_event(EventAction::kObserve, 9, "/bin/sh")};
  const auto programs = executed_programs_in(report);
  ASSERT_EQ(programs.size(), 1u);
  EXPECT_FALSE(programs[0].killed_at_exec);
}

}  // namespace
}  // namespace armorbench
