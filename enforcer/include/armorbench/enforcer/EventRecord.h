// The enforcer's decisions as typed records, for everything above the ring buffer: the daemon
// writes them as JSON lines, the guest agent relays those lines, GuestVm and the host enforcer
// hand EnforcerReports up to the harness, which counts and attributes them by field, not by
// string key. Decoded once from abi.h's ab_event (Event::record()) or from its JSON form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Enforcement.h"

namespace armorbench::enforcer {

// What the enforcer did (abi.h's ab_action). kObserve is the exec watch: not a decision.
enum class EventAction { kNone, kAllow, kAudit, kBlock, kObserve };
// How a denial was carried out (abi.h's ab_enforcement).
enum class Enforcement { kNone, kSigkill, kEperm };

std::string to_string(EventAction action);       // none | allow | audit | block | observe
std::string to_string(Enforcement enforcement);  // none | sigkill | eperm

struct EventRecord {
  std::uint64_t time_boot_ns = 0;
  std::uint32_t pid = 0;  // thread id
  std::uint32_t tgid = 0;
  std::uint32_t ppid = 0;
  std::uint32_t uid = 0;
  std::string comm;
  std::string exe;  // the acting executable
  std::uint64_t cgroup_id = 0;
  Operation operation = Operation::kOther;
  EventAction action = EventAction::kNone;
  Backend backend = Backend::kTracepoint;
  Enforcement enforcement = Enforcement::kNone;
  std::uint32_t generation = 0;
  std::uint32_t rule_id = 0;
  std::string resource;                     // exec'd binary, opened file, "addr:port", "pid N"
  std::string protocol;                     // network operations
  std::optional<std::uint32_t> target_pid;  // memory operations
  std::uint64_t target_cgroup_id = 0;       // memory operations
  std::optional<bool> write;                // open
  // Changes (unlink, rename, link, setattr): "unlink", "rmdir", "rename", "rename-target",
  // "link", "link-target", "truncate", "chmod", "chown"; *-target: the resource is the new name.
  std::string change;
  bool path_truncated = false;
  // A name judged before the call had "." or ".." components (tracepoint backend): failed closed.
  bool unresolved = false;
  // The process had left its container's view (another mount namespace or root): failed closed.
  bool foreign_view = false;
  // Decided on the protected name of the object, opened under another (renamed, hard-linked).
  bool identity = false;
  bool default_posture = false;  // decided by the default posture, not by a rule
  // The rule that decided (decisions only, not observations).
  std::string rule;
  std::string policy;
  std::string category;
  int severity = 0;
  std::vector<std::string> tags;
  std::string message;
  std::string rule_source;  // file:line:column of the rule

  bool is_decision() const {
    return action != EventAction::kObserve && action != EventAction::kNone;
  }
  // Whether the event is about the cgroup's processes: as the actor or, for memory operations,
  // as the process whose memory was touched.
  bool concerns(std::uint64_t cgroup) const {
    return cgroup_id == cgroup || (target_cgroup_id != 0 && target_cgroup_id == cgroup);
  }

  nlohmann::json to_json() const;
  // Throws nlohmann::json::exception on a malformed record.
  static EventRecord from_json(const nlohmann::json& json);
};

// What an enforcer recorded for one sandbox: its events and how many it lost.
struct EnforcerReport {
  std::vector<EventRecord> events;
  std::uint64_t dropped = 0;  // events the ring buffer (or a relay) had no room for
};

}  // namespace armorbench::enforcer
