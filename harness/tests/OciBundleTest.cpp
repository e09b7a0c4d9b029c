// OCI config generation: read-only root, scratch binds, namespaces, limits, cgroup path.
#include "armorbench/harness/OciBundle.h"

#include <gtest/gtest.h>

namespace armorbench {
namespace {

BundleSpec sample() {
  BundleSpec spec;
  spec.container_id = "ab-1";
  spec.rootfs = "/work/rootfs";
  spec.args = {"/usr/bin/python3", "server.py"};
  spec.scratch_tmp = "/scratch/tmp";
  spec.scratch_run = "/scratch/run";
  spec.cgroups_path = "/armorbench/ab-1";
  return spec;
}

const nlohmann::json* find_mount(const nlohmann::json& config, const std::string& destination) {
  for (const auto& m : config["mounts"])
    if (m["destination"] == destination) return &m;
  return nullptr;
}

bool has_namespace(const nlohmann::json& config, const std::string& type) {
  for (const auto& ns : config["linux"]["namespaces"])
    if (ns["type"] == type) return true;
  return false;
}

TEST(OciBundle, RootIsReadOnlyAndScratchIsBound) {
  const auto config = make_oci_config(sample());
  EXPECT_EQ(config["root"]["path"], "/work/rootfs");
  EXPECT_EQ(config["root"]["readonly"], true);
  EXPECT_EQ(config["process"]["args"], nlohmann::json({"/usr/bin/python3", "server.py"}));
  EXPECT_EQ(config["process"]["noNewPrivileges"], true);
  const auto* tmp = find_mount(config, "/tmp");
  ASSERT_NE(tmp, nullptr);
  EXPECT_EQ((*tmp)["source"], "/scratch/tmp");
  const auto* run = find_mount(config, "/run");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ((*run)["source"], "/scratch/run");
  EXPECT_NE(find_mount(config, "/proc"), nullptr);
  EXPECT_EQ(config["linux"]["cgroupsPath"], "/armorbench/ab-1");
}

TEST(OciBundle, NetworkNoneAddsANetworkNamespace) {
  BundleSpec spec = sample();
  EXPECT_FALSE(has_namespace(make_oci_config(spec), "network"));
  spec.network = NetworkMode::kNone;
  EXPECT_TRUE(has_namespace(make_oci_config(spec), "network"));
}

TEST(OciBundle, HostPidSiblingHasNoPidNamespaceAndExtraCapability) {
  BundleSpec spec = sample();
  EXPECT_TRUE(has_namespace(make_oci_config(spec), "pid"));
  spec.host_pid_namespace = true;
  spec.extra_capabilities = {"CAP_SYS_PTRACE"};
  const auto config = make_oci_config(spec);
  EXPECT_FALSE(has_namespace(config, "pid"));
  const auto& caps = config["process"]["capabilities"]["effective"];
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_SYS_PTRACE"), caps.end());
}

TEST(OciBundle, LimitsBecomeCgroupResources) {
  BundleSpec spec = sample();
  EXPECT_TRUE(make_oci_config(spec)["linux"]["resources"].empty());
  spec.limits.memory_bytes = 512u << 20;
  spec.limits.pids = 64;
  spec.limits.cpus = 1.5;
  const auto resources = make_oci_config(spec)["linux"]["resources"];
  EXPECT_EQ(resources["memory"]["limit"], 512u << 20);
  EXPECT_EQ(resources["pids"]["limit"], 64);
  EXPECT_EQ(resources["cpu"]["quota"], 150000);
  EXPECT_EQ(resources["cpu"]["period"], 100000);
}

TEST(OciBundle, BindsAreAddedReadOnlyByDefault) {
  BundleSpec spec = sample();
  spec.binds.push_back({"/models/x", "/run/models", true});
  spec.binds.push_back({"/planted/nvidia0", "/dev/nvidia0", false});
  const auto config = make_oci_config(spec);
  const auto* models = find_mount(config, "/run/models");
  ASSERT_NE(models, nullptr);
  const auto& options = (*models)["options"];
  EXPECT_NE(std::find(options.begin(), options.end(), "ro"), options.end());
  const auto* device = find_mount(config, "/dev/nvidia0");
  ASSERT_NE(device, nullptr);
  EXPECT_NE(std::find((*device)["options"].begin(), (*device)["options"].end(), "rw"),
            (*device)["options"].end());
}

TEST(OciBundle, SeccompProfileGoesToLinuxSeccompAndUnconfinedHasNone) {
  BundleSpec spec = sample();
  EXPECT_FALSE(make_oci_config(spec)["linux"].contains("seccomp"));
  spec.seccomp = nlohmann::json{{"defaultAction", "SCMP_ACT_ALLOW"}};
  EXPECT_EQ(make_oci_config(spec)["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
}

}  // namespace
}  // namespace armorbench
