// The runtime-default profile refuses what it says it refuses, profile files are checked, and the
// kernel's seccomp audit records become denials of the named syscall.
#include "armorbench/harness/Seccomp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

using nlohmann::json;

// The rules of a profile that name `syscall`.
std::vector<json> rules_for(const json& profile, const std::string& syscall) {
  std::vector<json> out;
  for (const json& rule : profile["syscalls"])
    if (std::find(rule["names"].begin(), rule["names"].end(), syscall) != rule["names"].end())
      out.push_back(rule);
  return out;
}

TEST(Seccomp, RuntimeDefaultRefusesTheWaysOutOfTheContainersView) {
  const json profile = runtime_default_seccomp(true);
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(profile["architectures"], json::array({"SCMP_ARCH_X86_64"}));  // no int 0x80, no x32
  EXPECT_EQ(profile["flags"], json::array({"SECCOMP_FILTER_FLAG_LOG"}));
  for (const char* syscall : {"unshare", "setns", "mount", "chroot", "pivot_root", "io_uring_setup",
                              "bpf", "process_vm_readv"}) {
    const auto rules = rules_for(profile, syscall);
    ASSERT_EQ(rules.size(), 1u) << syscall;
    EXPECT_EQ(rules[0]["action"], "SCMP_ACT_ERRNO") << syscall;
    EXPECT_EQ(rules[0]["errnoRet"], 1) << syscall;
    EXPECT_FALSE(rules[0].contains("args")) << syscall;
  }
  EXPECT_EQ(rules_for(profile, "clone3").at(0)["errnoRet"], 38);  // ENOSYS: libc falls back
  // clone: refused with any CLONE_NEW* flag, and with CLONE_FILES but not CLONE_THREAD.
  const auto clones = rules_for(profile, "clone");
  ASSERT_EQ(clones.size(), 8u);
  bool user_ns = false, shared_files = false;
  for (const json& rule : clones) {
    const json& arg = rule["args"].at(0);
    EXPECT_EQ(arg["op"], "SCMP_CMP_MASKED_EQ");
    user_ns |= arg["value"] == 0x10000000 && arg["valueTwo"] == 0x10000000;
    shared_files |= arg["value"] == (0x400 | 0x10000) && arg["valueTwo"] == 0x400;
  }
  EXPECT_TRUE(user_ns);
  EXPECT_TRUE(shared_files);
  // What stays allowed: ordinary process creation and I/O.
  for (const char* syscall : {"fork", "execve", "openat", "socket", "ptrace"})
    EXPECT_TRUE(rules_for(profile, syscall).empty()) << syscall;
}

TEST(Seccomp, WithoutTheLogFlagRefusalsKillSoTheKernelStillRecordsThem) {
  const json profile = runtime_default_seccomp(false);
  EXPECT_FALSE(profile.contains("flags"));
  EXPECT_EQ(rules_for(profile, "unshare").at(0)["action"], "SCMP_ACT_KILL_PROCESS");
  EXPECT_TRUE(runtime_sets_seccomp_flags("crun", "1.8.1"));
  EXPECT_FALSE(runtime_sets_seccomp_flags("runc", "1.1.5+ds1"));
  EXPECT_TRUE(runtime_sets_seccomp_flags("runc", "1.2.0"));
}

TEST(Seccomp, AProfileFileGetsTheLogFlagAndBadOnesAreInputErrors) {
  const auto dir = std::filesystem::path(::testing::TempDir());
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return SeccompSpec{SeccompSpec::Mode::kProfile, dir / name};
  };
  const auto good = write("good.json", R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []})");
  EXPECT_EQ(seccomp_profile(good, true)->at("flags"), json::array({"SECCOMP_FILTER_FLAG_LOG"}));
  EXPECT_FALSE(seccomp_profile(good, false)->contains("flags"));
  EXPECT_EQ(good.name(), "good.json");
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"not-json.json", "{"},
           {"no-default.json", R"({"syscalls": []})"},
           {"docker.json", R"({"defaultAction": "SCMP_ACT_ERRNO", "archMap": []})"}}) {
    try {
      seccomp_profile(write(name, text), true);
      ADD_FAILURE() << name << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << name;
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(seccomp_profile(SeccompSpec{}, true));  // unconfined
}

TEST(Seccomp, AnAuditRecordBecomesADenialOfTheSyscall) {
  const std::string line =
      " audit: type=1326 audit(1796366796.607:2): auid=4294967295 uid=0 gid=0 ses=4294967295 "
      "pid=4839 comm=\"python3\" exe=\"/usr/bin/python3.11\" sig=0 arch=c000003e syscall=272 "
      "compat=0 ip=0x7fec5c36e0f7 code=0x50000";
  const auto record = parse_seccomp_record(line);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, 4839);
  EXPECT_EQ(record->comm, "python3");
  EXPECT_EQ(record->exe, "/usr/bin/python3.11");
  EXPECT_EQ(record->syscall, 272);
  EXPECT_TRUE(record->refused());
  const attacks::Denial d = seccomp_denial(*record, "runtime-default");
  EXPECT_EQ(d.by, "kernel (seccomp)");
  EXPECT_EQ(d.operation, Operation::kSyscall);
  EXPECT_EQ(d.resource, "unshare");
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.rule, "seccomp runtime-default");
  // A 32-bit call is named by number and architecture; a log action is no refusal.
  auto compat = parse_seccomp_record(
      " audit: type=1326 pid=7 comm=\"a\" exe=\"/a\" arch=40000003 syscall=5 code=0x7ffc0000");
  ASSERT_TRUE(compat);
  EXPECT_FALSE(compat->refused());
  EXPECT_EQ(seccomp_denial(*compat, "p").resource, "syscall 5 (arch 40000003)");
  EXPECT_FALSE(parse_seccomp_record(" audit: type=1400 apparmor=\"DENIED\" pid=1"));
  EXPECT_FALSE(parse_seccomp_record("random kernel line"));
}

}  // namespace
}  // namespace armorbench
