// HostEnforcer: the bundled enforcer library loaded into the host kernel for one sandbox.
#include "armorbench/harness/HostEnforcer.h"

#include <fstream>
#include <mutex>

#include "armorbench/base/Error.h"
#include "armorbench/enforcer/Enforcer.h"
#include "armorbench/enforcer/Policy.h"

namespace armorbench {
namespace fs = std::filesystem;

struct HostEnforcer::Impl {
  std::unique_ptr<enforcer::Enforcer> enforcer;
  std::string backend;
  std::vector<nlohmann::json> events;
  std::ofstream log;
};

HostEnforcer::HostEnforcer(const EnforcementPlan& plan, fs::path events_file)
    : impl_(std::make_unique<Impl>()) {
  std::vector<enforcer::Policy> policies;
  if (plan.mode != EnforcerMode::kOff)
    for (const fs::path& file : plan.policies)
      for (enforcer::Policy& policy : enforcer::load_policy_file(file.string()))
        policies.push_back(std::move(policy));
  enforcer::CompileOptions options;
  options.audit_only = plan.mode == EnforcerMode::kAudit;
  const auto posture =
      plan.default_posture == "audit" ? enforcer::Action::kAudit : enforcer::Action::kBlock;
  options.posture = enforcer::Posture{posture, posture, posture};

  enforcer::EnforcerOptions enforcer_options;
  if (plan.backend == "tracepoint") enforcer_options.backend = enforcer::Backend::kTracepoint;
  if (plan.backend == "bpf-lsm") enforcer_options.backend = enforcer::Backend::kBpfLsm;
  if (plan.backend == "bpf-lsm") {
    std::string why;
    if (enforcer::choose_backend(&why) != enforcer::Backend::kBpfLsm)
      throw unsupported_error("the scenario asks for the bpf-lsm backend; " + why);
  }
  enforcer_options.exec_watch = true;  // cheap (sched_process_exec) and needed for exec objectives

  impl_->enforcer =
      std::make_unique<enforcer::Enforcer>(enforcer::compile(policies, options), enforcer_options);
  impl_->backend = plan.mode == EnforcerMode::kOff
                       ? "exec-watch"
                       : enforcer::to_string(impl_->enforcer->backend());
  fs::create_directories(events_file.parent_path());
  impl_->log.open(events_file, std::ios::app);
  impl_->enforcer->set_sink([this](const enforcer::Event& event) {
    nlohmann::json json = event.to_json();
    impl_->log << json.dump() << '\n';
    impl_->events.push_back(std::move(json));
  });
}

HostEnforcer::~HostEnforcer() = default;

const std::string& HostEnforcer::backend() const {
  return impl_->backend;
}

void HostEnforcer::scope(std::uint64_t cgroup_id, const fs::path& cgroup_dir, pid_t,
                         bool watch_exec) {
  impl_->enforcer->scope(enforcer::Scope{cgroup_id, cgroup_dir, true, watch_exec});
}

void HostEnforcer::unscope(std::uint64_t cgroup_id) {
  impl_->enforcer->poll(0);  // what happened before the scope ends belongs to this case
  impl_->enforcer->unscope(cgroup_id);
}

std::vector<nlohmann::json> HostEnforcer::events_for(std::uint64_t cgroup_id) {
  impl_->enforcer->poll(0);
  impl_->log.flush();
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& event : impl_->events)
    if (event.value("cgroup_id", 0ull) == cgroup_id ||
        event.value("target_cgroup_id", 0ull) == cgroup_id)
      out.push_back(event);
  if (const auto dropped = impl_->enforcer->stats().dropped; dropped > 0)
    out.push_back({{"kind", "dropped"}, {"count", dropped}});
  return out;
}

std::vector<std::string> HostEnforcer::executed_in(std::uint64_t cgroup_id) {
  std::vector<std::string> paths;
  for (const nlohmann::json& event : events_for(cgroup_id))
    if (event.value("action", "") == "observe" && event.value("operation", "") == "exec")
      paths.push_back(event.value("resource", ""));
  return paths;
}

}  // namespace armorbench
