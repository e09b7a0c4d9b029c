// The target factory (the one place that knows which class implements which target kind) and
// what every sandbox derives from its enforcer report.
#include "armorbench/harness/Target.h"

#include "armorbench/harness/RuncTarget.h"
#include "armorbench/harness/VmTarget.h"

namespace armorbench {

std::unique_ptr<Target> make_target(const TargetSpec& spec, const TargetContext& context) {
  switch (spec.kind) {
    case TargetKind::kRunc:
    case TargetKind::kCrun:
      return std::make_unique<RuncTarget>(spec, context);
    case TargetKind::kKata:
    case TargetKind::kCvm:
      return make_vm_target(spec, context);
  }
  return nullptr;
}

std::vector<std::string> Sandbox::executed_paths() {
  std::vector<std::string> paths;
  for (const enforcer::EventRecord& event : enforcer_report().events)
    if (event.action == enforcer::EventAction::kObserve && event.operation == Operation::kExec)
      paths.push_back(event.resource);
  return paths;
}

}  // namespace armorbench
