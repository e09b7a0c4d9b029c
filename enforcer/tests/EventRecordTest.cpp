// EventRecord: decoded from the ring buffer's ab_event with the rule it names, carried through
// JSON (the daemon's lines, the guest agent's relay) without losing a field.
#include "armorbench/enforcer/EventRecord.h"

#include <gtest/gtest.h>

#include <cstring>

#include "armorbench/enforcer/Enforcer.h"

namespace armorbench::enforcer {
namespace {

Event exec_block() {
  Event e;
  e.raw.timestamp_ns = 42;
  e.raw.cgroup_id = 7;
  e.raw.pid = e.raw.tgid = 100;
  e.raw.ppid = 1;
  e.raw.operation = AB_OP_EXEC;
  e.raw.action = AB_ACTION_BLOCK;
  e.raw.backend = AB_BACKEND_TRACEPOINT;
  e.raw.enforcement = AB_ENFORCE_KILL;
  e.raw.rule_id = 3;
  std::strcpy(e.raw.comm, "python3");
  std::strcpy(e.raw.exe, "/usr/bin/python3.11");
  std::strcpy(e.raw.resource, "/bin/sh");
  e.rule.id = 3;
  e.rule.policy = "model-server";
  e.rule.category = "process";
  e.rule.description = "/bin/sh";
  e.rule.labels.severity = 8;
  e.rule.labels.tags = {"MITRE"};
  return e;
}

TEST(EventRecord, DecodesTheRawEventWithItsRule) {
  const EventRecord r = exec_block().record();
  EXPECT_EQ(r.operation, Operation::kExec);
  EXPECT_EQ(r.action, EventAction::kBlock);
  EXPECT_EQ(r.enforcement, Enforcement::kSigkill);
  EXPECT_EQ(r.backend, Backend::kTracepoint);
  EXPECT_EQ(r.resource, "/bin/sh");
  EXPECT_EQ(r.exe, "/usr/bin/python3.11");
  EXPECT_EQ(r.policy, "model-server");
  EXPECT_EQ(r.severity, 8);
  EXPECT_TRUE(r.is_decision());
  EXPECT_TRUE(r.concerns(7));
  EXPECT_FALSE(r.concerns(8));
}

TEST(EventRecord, MemoryEventsConcernTheirTargetCgroup) {
  Event e = exec_block();
  e.raw.operation = AB_OP_VM_READ;
  e.raw.target_pid = 55;
  e.raw.target_cgroup_id = 9;
  e.raw.resource[0] = '\0';
  const EventRecord r = e.record();
  EXPECT_EQ(r.operation, Operation::kVmRead);
  EXPECT_EQ(r.resource, "pid 55");
  EXPECT_TRUE(r.concerns(9));
  EXPECT_EQ(r.to_json()["operation"], "process_vm_readv");
}

TEST(EventRecord, JsonRoundTripKeepsEveryField) {
  Event e = exec_block();
  e.raw.flags = AB_EVENT_POSTURE;
  const EventRecord r = e.record();
  const nlohmann::json j = r.to_json();
  EXPECT_EQ(j["action"], "block");
  EXPECT_EQ(j["enforcement"], "sigkill");
  EXPECT_EQ(j["default_posture"], true);
  EXPECT_EQ(EventRecord::from_json(j).to_json(), j);
}

TEST(EventRecord, ChangesSayWhatTheyChangeAndSurviveJson) {
  Event e = exec_block();
  e.raw.operation = AB_OP_RENAME;
  e.raw.aux = AB_CHANGE_RENAME_TARGET;
  e.raw.flags = AB_EVENT_UNRESOLVED | AB_EVENT_WRITE;
  std::strcpy(e.raw.resource, "/run/secrets/token");
  const EventRecord r = e.record();
  EXPECT_EQ(r.operation, Operation::kRename);
  EXPECT_EQ(r.change, "rename-target");
  EXPECT_TRUE(r.unresolved);
  const nlohmann::json j = r.to_json();
  EXPECT_EQ(j["operation"], "rename");
  EXPECT_EQ(j["change"], "rename-target");
  EXPECT_EQ(EventRecord::from_json(j).to_json(), j);
  const std::pair<__u16, __u32> kinds[] = {{AB_OP_UNLINK, AB_CHANGE_RMDIR},
                                           {AB_OP_LINK, AB_CHANGE_LINK},
                                           {AB_OP_SETATTR, AB_CHANGE_TRUNCATE},
                                           {AB_OP_SETATTR, AB_CHANGE_CHOWN}};
  const char* names[] = {"rmdir", "link", "truncate", "chown"};
  for (std::size_t i = 0; i < std::size(kinds); ++i) {
    e.raw.operation = kinds[i].first;
    e.raw.aux = kinds[i].second;
    EXPECT_EQ(e.record().change, names[i]);
  }
  e.raw.operation = AB_OP_OPEN;  // an open has no change, whatever its aux says
  EXPECT_EQ(e.record().change, "");
}

TEST(EventRecord, ObservationsCarryNoRule) {
  Event e = exec_block();
  e.raw.action = AB_ACTION_OBSERVE;
  const EventRecord r = e.record();
  EXPECT_FALSE(r.is_decision());
  EXPECT_FALSE(r.to_json().contains("policy"));
  EXPECT_EQ(EventRecord::from_json(r.to_json()).action, EventAction::kObserve);
}

}  // namespace
}  // namespace armorbench::enforcer
