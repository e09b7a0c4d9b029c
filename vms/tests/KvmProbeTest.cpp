// The KVM probe's cheap stages decide without booting anything.
#include <gtest/gtest.h>

#include "armorbench/vms/KvmProbe.h"

namespace armorbench::vms {
namespace {

TEST(KvmProbe, MissingDeviceIsReportedWithoutABoot) {
  KvmProbeOptions options;
  options.device = "/nonexistent/kvm";
  const KvmProbeResult result = probe_kvm(options);
  EXPECT_FALSE(result.usable);
  EXPECT_FALSE(result.booted);
  EXPECT_EQ(result.stage, "device");
  EXPECT_NE(result.reason.find("/nonexistent/kvm is not usable: No such file or directory"),
            std::string::npos)
      << result.reason;
  std::string why;
  EXPECT_FALSE(kvm_usable(options, &why));
  EXPECT_EQ(why, result.reason);
}

TEST(KvmProbe, ThisHostsAnswerNeedsNoBoot) {
  // Whatever this host has, a probe without an image never boots: it stops at the device, at
  // libvirt, or reports that a boot would be needed to prove KVM.
  KvmProbeOptions options;
  const KvmProbeResult result = probe_kvm(options);
  EXPECT_FALSE(result.booted);
  EXPECT_FALSE(result.usable);
  EXPECT_FALSE(result.reason.empty());
  EXPECT_LT(result.elapsed.count(), 10'000);
}

}  // namespace
}  // namespace armorbench::vms
