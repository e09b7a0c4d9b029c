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

std::vector<attacks::ExecutedProgram> executed_programs_in(const enforcer::EnforcerReport& report) {
  using enforcer::EventAction;
  std::vector<attacks::ExecutedProgram> programs;
  for (const enforcer::EventRecord& event : report.events) {
    if (event.action != EventAction::kObserve || event.operation != Operation::kExec) continue;
    attacks::ExecutedProgram program{event.resource, event.tgid, false, ""};
    // The tracepoint backend kills an exec it refuses with SIGKILL: the new image is mapped
    // (the watch sees it) but the process dies before its first instruction.
    for (const enforcer::EventRecord& block : report.events)
      if (block.action == EventAction::kBlock && block.operation == Operation::kExec &&
          block.enforcement == enforcer::Enforcement::kSigkill && block.tgid == event.tgid) {
        program.killed_at_exec = true;
        program.killed_by = "enforcer (" + to_string(block.backend) + "), rule " +
                            (block.rule.empty() ? "-" : block.rule);
      }
    programs.push_back(std::move(program));
  }
  return programs;
}

std::vector<attacks::ExecutedProgram> Sandbox::executed_programs() {
  return executed_programs_in(enforcer_report());
}

}  // namespace armorbench
