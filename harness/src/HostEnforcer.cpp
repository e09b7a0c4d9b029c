// HostEnforcer: the bundled enforcer library loaded into the host kernel for one sandbox.
#include "armorbench/harness/HostEnforcer.h"

#include <poll.h>

#include <atomic>
#include <fstream>
#include <map>
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
  EnforcementPlan plan;  // what is in force (the mode of the last use())
  std::uint32_t generation = 1;
  std::string backend;
  std::mutex mutex;  // the ring buffer's consumer, `events` and `logs`
  std::vector<enforcer::EventRecord> events;
  std::map<std::uint64_t, std::ofstream> logs;  // by scoped cgroup
  // Events lost before each cgroup was scoped: a case is told only of what was lost in its time.
  std::map<std::uint64_t, std::uint64_t> lost_before;
  std::atomic<bool> stopping{false};
  std::uint64_t lost = 0;  // events the sink could not take
  std::thread drain;

  void drain_now() {
    std::lock_guard lock(mutex);
    if (enforcer->poll(0) > 0)
      for (auto& [id, log] : logs) log.flush();  // the logs are evidence as it happens
  }

  // Events over their rule's rate were decided and enforced but not sent: as lost as dropped ones.
  std::uint64_t lost_so_far() const {
    const enforcer::EnforcerStats stats = enforcer->stats();
    return stats.dropped + stats.rate_limited + lost;
  }

  enforcer::RuleSet compile(const EnforcementPlan& p) const {
    const bool enforcing = p.mode != EnforcerMode::kOff;
    return enforcer::compile_policy_files(
        enforcing ? p.policies : std::vector<fs::path>{},
        enforcer::PolicyFileOptions{p.mode == EnforcerMode::kAudit, p.default_posture, generation});
  }
};

HostEnforcer::HostEnforcer(const EnforcementPlan& plan) : impl_(std::make_unique<Impl>()) {
  impl_->plan = plan;
  enforcer::RuleSet rules = impl_->compile(plan);

  if (plan.backend == Backend::kBpfLsm) {
    std::string why;
    if (enforcer::choose_backend(&why) != Backend::kBpfLsm)
      throw unsupported_error("the scenario asks for the bpf-lsm backend; " + why);
  }
  enforcer::EnforcerOptions options;
  options.backend = plan.backend;
  options.exec_watch = true;  // cheap (sched_process_exec) and needed for exec objectives

  impl_->enforcer = std::make_unique<enforcer::Enforcer>(std::move(rules), options);
  impl_->backend =
      plan.mode != EnforcerMode::kOff ? to_string(impl_->enforcer->backend()) : "exec-watch";
  impl_->enforcer->set_sink([this](const enforcer::Event& event) {
    // Called from libbpf's C callback within poll(), mutex held: nothing may throw through it.
    // comm and paths are the workload's bytes, so invalid UTF-8 is replaced, not thrown on.
    try {
      enforcer::EventRecord record = event.record();
      const std::string line =
          record.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      for (auto& [id, log] : impl_->logs)
        if (record.concerns(id)) log << line << '\n';
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

bool HostEnforcer::serves(const EnforcementPlan& plan) const {
  const EnforcementPlan& held = impl_->plan;
  return held.backend == plan.backend && held.policies == plan.policies &&
         held.default_posture == plan.default_posture &&
         (held.mode == EnforcerMode::kOff) == (plan.mode == EnforcerMode::kOff);
}

void HostEnforcer::use(const EnforcementPlan& plan) {
  if (!serves(plan)) throw harness_error("the host enforcer cannot serve this plan by a swap");
  if (plan.mode == impl_->plan.mode) return;
  ++impl_->generation;
  enforcer::RuleSet rules = impl_->compile(plan);
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->replace_rules(std::move(rules));
  impl_->plan = plan;
}

void HostEnforcer::scope(std::uint64_t cgroup_id, const fs::path& cgroup_dir, bool watch_exec,
                         pid_t container_pid, const fs::path& events_file) {
  enforcer::Scope scope{cgroup_id, cgroup_dir, true, watch_exec};
  if (container_pid > 0) enforcer::set_view_of(scope, container_pid);
  fs::create_directories(events_file.parent_path());
  std::lock_guard lock(impl_->mutex);
  impl_->logs[cgroup_id].open(events_file, std::ios::app);
  impl_->lost_before[cgroup_id] = impl_->lost_so_far();
  impl_->enforcer->scope(scope);
}

void HostEnforcer::unscope(std::uint64_t cgroup_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->poll(0);  // what happened before the scope ends belongs to this case
  impl_->enforcer->unscope(cgroup_id);
  if (auto it = impl_->logs.find(cgroup_id); it != impl_->logs.end()) it->second.flush();
}

enforcer::EnforcerReport HostEnforcer::report_for(std::uint64_t cgroup_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->poll(0);
  if (auto it = impl_->logs.find(cgroup_id); it != impl_->logs.end()) it->second.flush();
  enforcer::EnforcerReport report;
  for (const enforcer::EventRecord& event : impl_->events)
    if (event.concerns(cgroup_id)) report.events.push_back(event);
  // Lost while the cgroup was scoped (the ring cannot say whose they were).
  report.dropped = impl_->lost_so_far() - impl_->lost_before[cgroup_id];
  return report;
}

void HostEnforcer::forget(std::uint64_t cgroup_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->logs.erase(cgroup_id);
  impl_->lost_before.erase(cgroup_id);
  std::erase_if(impl_->events,
                [&](const enforcer::EventRecord& e) { return e.concerns(cgroup_id); });
}

HostEnforcerPool::Lease HostEnforcerPool::acquire(const EnforcementPlan& plan) {
  if (current_ && current_->serves(plan)) {
    current_->use(plan);
    return {current_, false};
  }
  release();  // before loading: never two enforcers, and an off run never sees rules
  current_ = std::make_shared<HostEnforcer>(plan);
  ++loads_;
  return {current_, true};
}

void HostEnforcerPool::release() {
  current_.reset();
}

}  // namespace armorbench
