// The enforcer's user-space side: loads the BPF programs a rule set needs for the chosen backend,
// installs the rules (replacing a whole rule set atomically), scopes cgroups, and decodes the
// ring buffer of decisions into events. Lifecycle in one place, as libbpf-bootstrap shows it:
// open, set read-only config, load, attach, poll, destroy (in the destructor, on every path).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Enforcement.h"
#include "armorbench/enforcer/EventRecord.h"
#include "armorbench/enforcer/RuleSet.h"
#include "armorbench/enforcer/abi.h"

namespace armorbench::enforcer {

// Backend (auto | tracepoint | bpf-lsm) is the shared one (armorbench/base/Enforcement.h).
using armorbench::Backend;

// The backend to use: bpf-lsm when this kernel loads lsm programs and runs the bpf LSM, else
// tracepoint. `why` explains the choice (it is reported with every result).
Backend choose_backend(std::string* why);

// The BPF objects this build carries (compiled from enforcer/bpf/*.bpf.c, embedded by the
// skeletons): what an evidence bundle digests, so a reviewer knows which programs enforced.
struct BpfObject {
  std::string name;  // "file", "exec", ... (enforcer/bpf/<name>.bpf.c)
  std::string_view elf;
};
std::vector<BpfObject> bpf_objects();

// One record off the ring buffer, with the rule its id meant in the event's generation.
struct Event {
  ab_event raw{};
  RuleInfo rule;

  EventRecord record() const;  // decoded, typed: what everything above the enforcer uses
};

struct EnforcerOptions {
  Backend backend = Backend::kAuto;  // kAuto: choose_backend()
  bool exec_watch = false;           // load the exec watch (observe events) even without rules
};

struct Scope {
  std::uint64_t cgroup_id = 0;
  std::filesystem::path cgroup_dir;  // the cgroup v2 directory (cgroup programs attach here)
  bool enforce = true;               // apply the rules to its processes
  bool watch_exec = false;           // report every exec in it
  // Inode number of the container's mount namespace (/proc/<pid>/ns/mnt): path decisions made
  // for a process in another namespace, or chrooted within it, fail closed. 0: not checked.
  std::uint32_t mnt_ns = 0;
  // The container's root directory (stat of /proc/<pid>/root: st_dev, st_ino): a process whose
  // root is another directory has chrooted, and its path decisions fail closed. 0: not checked.
  std::uint64_t root_dev = 0;
  std::uint64_t root_ino = 0;
  // The container's init: the objects its file rules name are protected by identity as well
  // (inode and device, so a rename or a hard link does not take them out of the rules). 0: no.
  pid_t container_pid = 0;
};

// Sets mnt_ns, root_dev, root_ino and container_pid to what process `pid` (the container's init)
// sees; throws an environment error when its /proc entries cannot be read.
void set_view_of(Scope& scope, pid_t pid);

struct EnforcerStats {
  std::uint64_t events = 0;
  std::uint64_t dropped = 0;  // events the ring buffer had no room for
  // Events over their rule's rate (AB_RATE_LIMIT a second per rule and CPU): decided and enforced,
  // not sent.
  std::uint64_t rate_limited = 0;
};

class Enforcer {
 public:
  Enforcer(RuleSet rules, const EnforcerOptions& options);
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  Backend backend() const;
  // Which hooks are attached, e.g. {"tp/sched/sched_process_exec", "cgroup/connect4", ...}.
  std::vector<std::string> attached() const;

  // Replaces the whole rule set in one map-in-map swap; programs see the old or the new set,
  // never a mix. The new set must not need hooks that are not loaded.
  void replace_rules(RuleSet rules);
  std::uint32_t generation() const;

  void scope(const Scope& scope);
  void unscope(std::uint64_t cgroup_id);

  // Pins every link (and those of later scope() calls) under `dir`/links and every shared map
  // under `dir`/maps, `dir` being a new directory on a bpf filesystem: the programs stay
  // attached, and the rules in force, when this process dies however it dies (fail closed, as
  // Tetragon's keep-sensors-on-exit). unpin() removes the pins and `dir` (the links stay attached
  // while this object holds them); the destructor leaves pins in place. Throws an environment
  // error when a link cannot be pinned (a perf event attached without a BPF link, before 5.15).
  void pin(const std::filesystem::path& dir);
  void unpin();

  // Consumes the ring buffer for up to `timeout_ms` (0: what is there now), handing each event to
  // the sink; returns the number consumed.
  int poll(int timeout_ms);
  // A descriptor that polls readable when events wait in the ring buffer (-1: no ring), so a
  // consumer can wait without holding what guards poll().
  int event_fd() const;
  void set_sink(std::function<void(const Event&)> sink);
  EnforcerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace armorbench::enforcer
