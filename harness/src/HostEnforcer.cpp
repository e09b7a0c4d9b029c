// HostEnforcer: the bundled enforcer library loaded into the host kernel for one sandbox.
#include "armorbench/harness/HostEnforcer.h"

#include <poll.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "armorbench/base/Error.h"
#include "armorbench/enforcer/Enforcer.h"
#include "armorbench/enforcer/RuleSet.h"

namespace armorbench {
namespace fs = std::filesystem;

// The ring buffer is drained all the time the sandbox runs, not only when the case ends: a
// workload that floods it (on purpose or not) loses fewer events, and none of them silently.
constexpr int kDrainIntervalMs = 20;

struct HostEnforcer::Impl {
  std::unique_ptr<enforcer::Enforcer> enforcer;
  std::string backend;
  std::mutex mutex;  // the ring buffer's consumer, `events` and `log`
  std::vector<enforcer::EventRecord> events;
  std::ofstream log;
  std::atomic<bool> stopping{false};
  std::uint64_t lost = 0;  // events the sink could not take
  std::thread drain;

  void drain_now() {
    std::lock_guard lock(mutex);
    if (enforcer->poll(0) > 0) log.flush();  // the log is evidence as it happens
  }
};

HostEnforcer::HostEnforcer(const EnforcementPlan& plan, fs::path events_file)
    : impl_(std::make_unique<Impl>()) {
  const bool enforcing = plan.mode != EnforcerMode::kOff;
  enforcer::RuleSet rules = enforcer::compile_policy_files(
      enforcing ? plan.policies : std::vector<fs::path>{},
      enforcer::PolicyFileOptions{plan.mode == EnforcerMode::kAudit, plan.default_posture, 1});

  if (plan.backend == Backend::kBpfLsm) {
    std::string why;
    if (enforcer::choose_backend(&why) != Backend::kBpfLsm)
      throw unsupported_error("the scenario asks for the bpf-lsm backend; " + why);
  }
  enforcer::EnforcerOptions options;
  options.backend = plan.backend;
  options.exec_watch = true;  // cheap (sched_process_exec) and needed for exec objectives

  impl_->enforcer = std::make_unique<enforcer::Enforcer>(std::move(rules), options);
  impl_->backend = enforcing ? to_string(impl_->enforcer->backend()) : "exec-watch";
  fs::create_directories(events_file.parent_path());
  impl_->log.open(events_file, std::ios::app);
  impl_->enforcer->set_sink([this](const enforcer::Event& event) {
    // Called from libbpf's C callback within poll(), mutex held: nothing may throw through it.
    // comm and paths are the workload's bytes, so invalid UTF-8 is replaced, not thrown on.
    try {
      enforcer::EventRecord record = event.record();
      impl_->log << record.to_json().dump(-1, ' ', false,
                                          nlohmann::json::error_handler_t::replace)
                 << '\n';
      impl_->events.push_back(std::move(record));
    } catch (const std::exception&) {
      ++impl_->lost;  // reported as dropped: a denial may be missing
    }
  });
  // Waits for events without the lock (scope, unscope and reports never queue behind a wait),
  // then consumes them under it.
  impl_->drain = std::thread([impl = impl_.get()] {
    const int fd = impl->enforcer->event_fd();
    while (!impl->stopping.load()) {
      pollfd ready{fd, POLLIN, 0};
      if (fd >= 0 && ::poll(&ready, 1, kDrainIntervalMs) > 0) impl->drain_now();
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(kDrainIntervalMs));
    }
  });
}

HostEnforcer::~HostEnforcer() {
  impl_->stopping = true;
  if (impl_->drain.joinable()) impl_->drain.join();
}

const std::string& HostEnforcer::backend() const {
  return impl_->backend;
}

void HostEnforcer::scope(std::uint64_t cgroup_id, const fs::path& cgroup_dir, bool watch_exec,
                         pid_t container_pid) {
  enforcer::Scope scope{cgroup_id, cgroup_dir, true, watch_exec};
  if (container_pid > 0) enforcer::set_view_of(scope, container_pid);
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->scope(scope);
}

void HostEnforcer::unscope(std::uint64_t cgroup_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->poll(0);  // what happened before the scope ends belongs to this case
  impl_->enforcer->unscope(cgroup_id);
}

enforcer::EnforcerReport HostEnforcer::report_for(std::uint64_t cgroup_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->poll(0);
  impl_->log.flush();
  enforcer::EnforcerReport report;
  for (const enforcer::EventRecord& event : impl_->events)
    if (event.concerns(cgroup_id)) report.events.push_back(event);
  // Events over their rule's rate were decided and enforced but not sent: as lost as dropped ones.
  const enforcer::EnforcerStats stats = impl_->enforcer->stats();
  report.dropped = stats.dropped + stats.rate_limited + impl_->lost;
  return report;
}

}  // namespace armorbench
