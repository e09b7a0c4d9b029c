// The enforcement vocabulary: every name parses back to its value, unknown text is refused.
#include "armorbench/base/Enforcement.h"

#include <gtest/gtest.h>

namespace armorbench {
namespace {

TEST(Enforcement, ModesRoundTrip) {
  for (EnforcerMode mode : {EnforcerMode::kOff, EnforcerMode::kAudit, EnforcerMode::kBlock})
    EXPECT_EQ(enforcer_mode_from_string(to_string(mode)), mode);
  EXPECT_EQ(to_string(EnforcerMode::kBlock), "block");
  EXPECT_FALSE(enforcer_mode_from_string("Block"));
}

TEST(Enforcement, BackendsRoundTrip) {
  for (Backend backend : {Backend::kAuto, Backend::kTracepoint, Backend::kBpfLsm})
    EXPECT_EQ(backend_from_string(to_string(backend)), backend);
  EXPECT_EQ(to_string(Backend::kBpfLsm), "bpf-lsm");
  EXPECT_FALSE(backend_from_string("lsm"));
}

TEST(Enforcement, PosturesRoundTrip) {
  for (DefaultPosture posture : {DefaultPosture::kBlock, DefaultPosture::kAudit})
    EXPECT_EQ(default_posture_from_string(to_string(posture)), posture);
  EXPECT_FALSE(default_posture_from_string("allow"));
}

TEST(Enforcement, OperationsRoundTrip) {
  for (Operation op : {Operation::kExec, Operation::kOpen, Operation::kConnect, Operation::kSendmsg,
                       Operation::kSocket, Operation::kPtrace, Operation::kVmRead,
                       Operation::kProcMem, Operation::kCapable, Operation::kUnlink,
                       Operation::kRename, Operation::kLink, Operation::kSetattr,
                       Operation::kOther})
    EXPECT_EQ(operation_from_string(to_string(op)), op);
  EXPECT_EQ(to_string(Operation::kVmRead), "process_vm_readv");
  EXPECT_FALSE(operation_from_string("execve"));
}

}  // namespace
}  // namespace armorbench
