// A booted micro-VM with its agent connected: the host side of vms/agent/PROTOCOL.md. The
// constructor boots (virDomainCreateXML), connects to the agent and HTTP sockets at once (the
// guest's first write blocks until the host is connected) and waits for the agent's hello. The
// destructor tears down on every path: stop op, wait for the domain to power off, else
// virDomainDestroy. The run directory (console log, sockets) is kept as evidence.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/CgroupStats.h"
#include "armorbench/enforcer/EventRecord.h"

#include "armorbench/base/UniqueFd.h"
#include "armorbench/vms/AgentProtocol.h"
#include "armorbench/vms/Domain.h"
#include "armorbench/vms/DomainSpec.h"
#include "armorbench/vms/GuestImage.h"
#include "armorbench/vms/LibvirtConnection.h"

namespace armorbench::vms {

// Kernel command line of the micro-VM, measured to save ~0.5 s of TCG boot (vms/README.md).
inline constexpr std::string_view kGuestBaseCmdline =
    "console=ttyS0 panic=-1 quiet cryptomgr.notests tsc=reliable no_timer_check "
    "rcupdate.rcu_expedited=1 i8042.noaux i8042.nokbd i8042.nopnp i8042.dumbkbd 8250.nr_uarts=1 "
    "pci=lastbus=0 audit=0";

// A saved guest to restore instead of booting (GuestSnapshot.h): its memory image, the root
// image it runs from, and what its domain XML must repeat (UUID, kernel command line).
struct SavedGuest {
  std::string name;  // the saved domain's: libvirt restores under no other name
  std::filesystem::path memory_image;
  std::filesystem::path root_image;
  std::string uuid;
  std::string cmdline;
  // The run dir of the guest that was saved: its sockets and console log move to this guest's.
  std::filesystem::path run_dir;
};

struct GuestVmConfig {
  std::string name;  // the libvirt domain name; unique per run
  GuestImage image;
  std::filesystem::path run_dir;        // created; holds agent.sock, http.sock, console.log
  std::filesystem::path agent;          // armorbench-guest-agent (same path in the guest)
  std::vector<std::string> agent_args;  // e.g. {"--enforcer", PATH}; no blanks (kernel cmdline)
  std::string uri = "qemu:///system";
  unsigned memory_mib = 1024;
  unsigned vcpus = 1;  // 1 on 2-core hosts: MTTCG with 2 vCPUs was slower
  Accel accel = Accel::kTcg;
  LaunchSecurity launch_security = LaunchSecurity::kNone;
  bool scratch = false;  // writable 9p share at /run/armorbench/scratch
  bool network = true;
  std::string extra_cmdline;
  std::chrono::milliseconds boot_timeout{60'000};
  // Boot from this root image (read-only virtio disk, `agent` a path inside it) rather than the
  // 9p host root: how a snapshot's guest is booted before it is saved.
  std::optional<std::filesystem::path> root_image;
  std::string uuid;  // "" = libvirt picks one (a guest to be saved gets one to restore with)
  // Restore this saved guest instead of booting (under its saved name, not `name`); the agent's
  // resume op follows at once (the enforcer at `resume_enforcer`, a host path). The caller holds
  // the name's SnapshotGuestLock: a domain of that name still running is a leftover of a killed
  // run, and is destroyed first.
  std::optional<SavedGuest> restore;
  std::filesystem::path resume_enforcer;
};

// What the agent answered to a start op.
struct StartReply {
  bool ok = false;
  nlohmann::json started;         // {"event":"started","pid":..,"cgroup":..} when ok
  nlohmann::json error;           // {"event":"error","stage":..,"error":..} when not
  nlohmann::json enforcer_ready;  // the daemon's ready line, when it ran
  std::chrono::milliseconds elapsed{0};
};

struct EnforcerEvents {
  enforcer::EnforcerReport report;  // decoded from the daemon's JSON lines the agent relays
  bool enforcer_running = false;
};

struct StopReply {
  nlohmann::json workload_exit;  // {"code","signal","text"} or null when never started
  nlohmann::json enforcer_exit;
  std::string stderr_tail;
  std::optional<CgroupStats> cgroup_stats;  // the workload's cgroup (none: never started)
  std::chrono::milliseconds poweroff{0};    // stop reply to QEMU gone (agent socket closed)
  bool powered_off = false;                 // false: the domain had to be destroyed
};

class GuestVm {
 public:
  // Boots and waits for hello. Throws an environment Error (with the console log's tail) when
  // the domain does not start or the agent says nothing within boot_timeout.
  explicit GuestVm(GuestVmConfig config);
  ~GuestVm();
  GuestVm(const GuestVm&) = delete;
  GuestVm& operator=(const GuestVm&) = delete;

  const nlohmann::json& hello() const { return hello_; }
  // virDomainCreateXML called -> hello line received (restored: restore called -> resumed).
  std::chrono::milliseconds boot_latency() const { return boot_latency_; }
  // Restored guests: virDomainRestoreFlags alone, and the resume op alone.
  std::chrono::milliseconds restore_latency() const { return domain_->create_time(); }
  std::chrono::milliseconds resume_latency() const { return resume_latency_; }
  bool restored() const { return config_.restore.has_value(); }
  const std::string& cmdline() const { return spec_.cmdline; }
  const std::string& uuid() const { return spec_.uuid; }
  std::chrono::milliseconds create_latency() const { return domain_->create_time(); }

  // Sends an op (an "id" is added) and waits for the reply with that id whose "event" is one of
  // `final_events` (or "error"). Replies with the id that are not final (enforcer_ready) and
  // messages without an id (workload, exit) are kept for wait_event(). Throws a harness Error on
  // timeout or when the agent's socket closes.
  nlohmann::json request(nlohmann::json op, std::initializer_list<std::string_view> final_events,
                         std::chrono::milliseconds timeout);
  // The next kept or arriving message whose "event" is `event`; nullopt on timeout.
  std::optional<nlohmann::json> wait_event(std::string_view event,
                                           std::chrono::milliseconds timeout);
  // Everything the agent sent so far, in order (evidence).
  const std::vector<nlohmann::json>& transcript() const { return transcript_; }

  StartReply start(const StartRequest& request, std::chrono::milliseconds timeout);
  // The workload's first stdout line ({"event":"ready"...} of the model server), or its exit.
  std::optional<nlohmann::json> wait_workload_line(std::chrono::milliseconds timeout);
  std::optional<std::string> read_file(
      const std::string& guest_path, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  EnforcerEvents enforcer_events(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The prewarm op (a snapshot's warm workload): its "prewarmed" reply, or throws an environment
  // Error with the agent's error and the workload's stderr.
  nlohmann::json prewarm(const PrewarmRequest& request, std::chrono::milliseconds timeout);
  // Saves the guest (virDomainSaveFlags) to `path`; the VM is gone afterwards (no stop op).
  void save(const std::filesystem::path& path);
  // Stops workload and enforcer, waits for the power-off; the VM is gone afterwards.
  StopReply stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // The connected byte stream to the guest's HTTP relay (one persistent HTTP/1.1 connection:
  // virtio-serial has no connect/close). Borrowed: valid while this object lives.
  int http_stream() const { return http_.get(); }

  std::optional<pid_t> qemu_pid() const { return domain_->qemu_pid(); }
  CoreDump core_dump_memory(const std::filesystem::path& path, bool live = false);
  std::string console_log() const;
  // Whether the agent reported the workload's exit (it ended on its own, before a stop).
  bool workload_exited() const;
  const std::filesystem::path& run_dir() const { return config_.run_dir; }
  const std::string& name() const { return config_.name; }
  bool running() const { return domain_ && domain_->active(); }

 private:
  std::optional<nlohmann::json> next_message(std::chrono::steady_clock::time_point deadline);
  void restore_and_resume(std::chrono::steady_clock::time_point start);
  void send(const nlohmann::json& op);
  void teardown() noexcept;
  [[noreturn]] void fail(const std::string& what) const;

  GuestVmConfig config_;
  DomainSpec spec_;
  LibvirtConnection connection_;
  std::optional<Domain> domain_;
  UniqueFd agent_;
  UniqueFd http_;
  std::string agent_buffer_;
  nlohmann::json hello_;
  std::chrono::milliseconds boot_latency_{0};
  std::chrono::milliseconds resume_latency_{0};
  std::deque<nlohmann::json> kept_;
  std::vector<nlohmann::json> transcript_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
};

// The domain a GuestVm with `config` creates (or restores), but for the scratch share: what
// domain_xml() turns into the XML. Pure.
DomainSpec guest_domain_spec(const GuestVmConfig& config);

// The cmdline for a guest whose init execs `agent`: base + armorbench.agent + armorbench.ports
// + `extra`, then " -- " + `agent_args` (the kernel hands what follows "--" to init as argv).
std::string guest_cmdline(const std::filesystem::path& agent, std::string_view extra = {},
                          const std::vector<std::string>& agent_args = {});

}  // namespace armorbench::vms
