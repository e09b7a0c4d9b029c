// HostEnforcer: the bundled enforcer library loaded into the host kernel for one sandbox.
#include "armorbench/harness/HostEnforcer.h"

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
  std::thread drain;

  void drain_now(int timeout_ms) {
    std::lock_guard lock(mutex);
    enforcer->poll(timeout_ms);
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
    enforcer::EventRecord record = event.record();  // called within poll(), mutex held
    impl_->log << record.to_json().dump() << '\n';
    impl_->events.push_back(std::move(record));
  });
  impl_->drain = std::thread([impl = impl_.get()] {
    while (!impl->stopping.load()) impl->drain_now(kDrainIntervalMs);
  });
}

HostEnforcer::~HostEnforcer() {
  impl_->stopping = true;
  if (impl_->drain.joinable()) impl_->drain.join();
}

const std::string& HostEnforcer::backend() const {
  return impl_->backend;
}

void HostEnforcer::scope(std::uint64_t cgroup_id, const fs::path& cgroup_dir, bool watch_exec) {
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->scope(enforcer::Scope{cgroup_id, cgroup_dir, true, watch_exec});
}

void HostEnforcer::unscope(std::uint64_t cgroup_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->enforcer->poll(0);  // what happened before the scope ends belongs to this case
  impl_->enforcer->unscope(cgroup_id);
}

enforcer::EnforcerReport HostEnforcer::report_for(std::uint64_t cgroup_id) {
  impl_->drain_now(0);
  std::lock_guard lock(impl_->mutex);
  impl_->log.flush();
  enforcer::EnforcerReport report;
  for (const enforcer::EventRecord& event : impl_->events)
    if (event.concerns(cgroup_id)) report.events.push_back(event);
  report.dropped = impl_->enforcer->stats().dropped;
  return report;
}

}  // namespace armorbench
