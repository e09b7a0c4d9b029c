// EventRecord to and from the JSON lines the daemon writes (and results.json keeps as evidence).
#include "armorbench/enforcer/EventRecord.h"

namespace armorbench::enforcer {
using nlohmann::json;

std::string to_string(EventAction action) {
  switch (action) {
    case EventAction::kAllow:
      return "allow";
    case EventAction::kAudit:
      return "audit";
    case EventAction::kBlock:
      return "block";
    case EventAction::kObserve:
      return "observe";
    case EventAction::kNone:
      break;
  }
  return "none";
}

std::string to_string(Enforcement enforcement) {
  switch (enforcement) {
    case Enforcement::kSigkill:
      return "sigkill";
    case Enforcement::kEperm:
      return "eperm";
    case Enforcement::kNone:
      break;
  }
  return "none";
}

namespace {

EventAction action_from(const std::string& text) {
  for (EventAction a :
       {EventAction::kAllow, EventAction::kAudit, EventAction::kBlock, EventAction::kObserve})
    if (to_string(a) == text) return a;
  return EventAction::kNone;
}

Enforcement enforcement_from(const std::string& text) {
  if (text == "sigkill") return Enforcement::kSigkill;
  if (text == "eperm") return Enforcement::kEperm;
  return Enforcement::kNone;
}

}  // namespace

json EventRecord::to_json() const {
  json j = {
      {"time_boot_ns", time_boot_ns},
      {"pid", pid},
      {"tgid", tgid},
      {"ppid", ppid},
      {"uid", uid},
      {"comm", comm},
      {"exe", exe},
      {"cgroup_id", cgroup_id},
      {"operation", armorbench::to_string(operation)},
      {"action", to_string(action)},
      {"backend", armorbench::to_string(backend)},
      {"enforcement", to_string(enforcement)},
      {"generation", generation},
      {"rule_id", rule_id},
      {"resource", resource},
  };
  if (!protocol.empty()) j["protocol"] = protocol;
  if (target_pid) {
    j["target_pid"] = *target_pid;
    j["target_cgroup_id"] = target_cgroup_id;
  }
  if (write) j["write"] = *write;
  if (action != EventAction::kObserve) {
    j["rule"] = rule;
    j["policy"] = policy;
    j["category"] = category;
    j["severity"] = severity;
    j["tags"] = tags;
    j["message"] = message;
    if (!rule_source.empty()) j["rule_source"] = rule_source;
  }
  if (!change.empty()) j["change"] = change;
  if (path_truncated) j["path_truncated"] = true;
  if (unresolved) j["unresolved"] = true;
  if (foreign_view) j["foreign_view"] = true;
  if (identity) j["identity"] = true;
  if (default_posture) j["default_posture"] = true;
  return j;
}

EventRecord EventRecord::from_json(const json& j) {
  EventRecord e;
  e.time_boot_ns = j.value("time_boot_ns", std::uint64_t{0});
  e.pid = j.value("pid", 0u);
  e.tgid = j.value("tgid", 0u);
  e.ppid = j.value("ppid", 0u);
  e.uid = j.value("uid", 0u);
  e.comm = j.value("comm", "");
  e.exe = j.value("exe", "");
  e.cgroup_id = j.value("cgroup_id", std::uint64_t{0});
  e.operation = operation_from_string(j.value("operation", "")).value_or(Operation::kOther);
  e.action = action_from(j.value("action", ""));
  e.backend = backend_from_string(j.value("backend", "")).value_or(Backend::kTracepoint);
  e.enforcement = enforcement_from(j.value("enforcement", ""));
  e.generation = j.value("generation", 0u);
  e.rule_id = j.value("rule_id", 0u);
  e.resource = j.value("resource", "");
  e.protocol = j.value("protocol", "");
  if (j.contains("target_pid")) {
    e.target_pid = j.at("target_pid").get<std::uint32_t>();
    e.target_cgroup_id = j.value("target_cgroup_id", std::uint64_t{0});
  }
  if (j.contains("write")) e.write = j.at("write").get<bool>();
  e.change = j.value("change", "");
  e.path_truncated = j.value("path_truncated", false);
  e.unresolved = j.value("unresolved", false);
  e.foreign_view = j.value("foreign_view", false);
  e.identity = j.value("identity", false);
  e.default_posture = j.value("default_posture", false);
  e.rule = j.value("rule", "");
  e.policy = j.value("policy", "");
  e.category = j.value("category", "");
  e.severity = j.value("severity", 0);
  e.tags = j.value("tags", std::vector<std::string>{});
  e.message = j.value("message", "");
  e.rule_source = j.value("rule_source", "");
  return e;
}

}  // namespace armorbench::enforcer
