// The host <-> guest-agent protocol (vms/agent/PROTOCOL.md): one JSON object per line on the
// armorbench.agent virtio-serial port. This header is shared by the agent (guest side) and
// GuestVm (host side), so both encode and validate the same messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Enforcement.h"

namespace armorbench::vms {

inline constexpr int kAgentProtocolVersion = 1;
// virtio-serial port names; the guest finds them as /dev/virtio-ports/<name>.
inline constexpr std::string_view kAgentChannel = "armorbench.agent";
inline constexpr std::string_view kHttpChannel = "armorbench.http";

// EnforcerMode, Backend and DefaultPosture are the shared ones (armorbench/base/Enforcement.h).

// A file the agent writes before the workload starts. Only /tmp, /run and /dev are writable in
// the guest (the root is the host's, read-only), so only paths below them are accepted.
struct PlantedFile {
  std::string path;
  std::string content;
  unsigned mode = 0644;
};

// cgroup v2 limits the agent writes before the workload starts (cpu.max, memory.max, pids.max).
struct WorkloadLimits {
  std::optional<double> cpus;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::int64_t> pids;

  bool any() const { return cpus || memory_bytes || pids; }
};

struct WorkloadRequest {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::vector<std::string> env;   // "NAME=value", added to the agent's base environment
  std::vector<PlantedFile> planted;
  std::string cgroup = "workload";  // created as /sys/fs/cgroup/<cgroup>
  std::string http_socket;          // the armorbench.http port is relayed here ("" = nowhere)
  WorkloadLimits limits;
  // Run as the agent runs (root, every capability, the guest's namespaces) instead of confined
  // like a container: for measurement tools that load BPF and make cgroups of their own
  // (armorbench-guest-run --unconfined, the enforcer bench); never for a case's model server.
  bool unconfined = false;
};

struct EnforcerRequest {
  EnforcerMode mode = EnforcerMode::kOff;
  std::vector<std::string> policies;  // guest paths (the host root is visible read-only)
  Backend backend = Backend::kAuto;
  bool watch_exec = false;
  DefaultPosture default_posture = DefaultPosture::kBlock;  // for what an allowlist does not allow
  double ready_timeout_s = 60;

  // The daemon runs when it enforces or when execs are to be observed.
  bool wanted() const { return mode != EnforcerMode::kOff || watch_exec; }
};

struct StartRequest {
  WorkloadRequest workload;
  EnforcerRequest enforcer;
};

// {"op":"start", "workload":{...}, "enforcer":{...}} (without "id": the sender adds it).
nlohmann::json encode_start(const StartRequest& request);
// Validates everything the agent relies on; throws an input Error naming the bad field.
StartRequest decode_start(const nlohmann::json& op);

// A snapshot's warm workload (vms/README.md "Snapshots"): the interpreter started, and its
// imports done, before the guest is saved. It waits, confined in its cgroup, for the argv of a
// later start op on its stdin; the model is loaded only then, in a restored guest.
struct PrewarmRequest {
  std::vector<std::string> argv;  // argv[0] absolute; a start op must name the same argv[0]
  std::vector<std::string> env;   // as in start: a start op must send the same environment
  std::string cgroup = "workload";
  double ready_timeout_s = 300;  // until its {"event":"warm"} line
};

// The first op to a restored guest: its clock and entropy are the saved guest's, and its root is
// the snapshot's root image. The agent sets the clock, reseeds the kernel's CRNG with `entropy`,
// mounts the host root (9p tag `hostroot`) and makes it the root of its own and the warm
// workload's mount namespaces, exactly as a cold-booted guest sees it.
struct ResumeRequest {
  std::int64_t unix_time_ns = 0;
  std::string entropy;   // raw bytes (base64 on the wire), at least 32
  std::string enforcer;  // the enforcer daemon's path in the host root ("" = keep the default)
};

nlohmann::json encode_prewarm(const PrewarmRequest& request);
PrewarmRequest decode_prewarm(const nlohmann::json& op);
nlohmann::json encode_resume(const ResumeRequest& request);
ResumeRequest decode_resume(const nlohmann::json& op);

// Whether a planted file may be written there: absolute, normalised, below /tmp, /run or /dev.
bool plantable_path(std::string_view path);
// A cgroup name the agent creates directly below the cgroup root: one path component.
bool valid_cgroup_name(std::string_view name);

// One protocol line (no trailing newline) from a JSON object, and back. parse_line throws a
// harness Error when the line is not a JSON object.
std::string to_line(const nlohmann::json& message);
nlohmann::json parse_line(std::string_view line);

// The "id" of a message, when it has a numeric one.
std::optional<std::uint64_t> message_id(const nlohmann::json& message);

}  // namespace armorbench::vms
