// The agent protocol's messages: encode/decode round trips, validation, line framing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "OutputQueue.h"
#include "armorbench/base/Error.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/vms/AgentProtocol.h"

namespace armorbench::vms {
namespace {

using nlohmann::json;

StartRequest sample() {
  StartRequest r;
  r.workload.argv = {"/usr/bin/python3", "-c", "print('hi')"};
  r.workload.env = {"ARMORBENCH_CASE=unit", "PYTHONDONTWRITEBYTECODE=1"};
  r.workload.planted = {{"/run/secrets/token", std::string("s3cr\0t\xff", 7), 0600},
                        {"/dev/nvidia0", "", 0666}};
  r.workload.cgroup = "case-1";
  r.workload.http_socket = "/run/armorbench/model.sock";
  r.workload.limits = {.cpus = 1.5, .memory_bytes = 512ull << 20, .pids = 128};
  r.enforcer.mode = EnforcerMode::kBlock;
  r.enforcer.policies = {"/work/policies/deny.toml"};
  r.enforcer.backend = Backend::kBpfLsm;
  r.enforcer.watch_exec = true;
  r.enforcer.default_posture = DefaultPosture::kAudit;
  return r;
}

TEST(AgentProtocol, StartRoundTrips) {
  const StartRequest in = sample();
  const json op = encode_start(in);
  EXPECT_EQ(op["op"], "start");
  // Through the wire format, as the agent receives it.
  const StartRequest out = decode_start(parse_line(to_line(op)));
  EXPECT_EQ(out.workload.argv, in.workload.argv);
  EXPECT_EQ(out.workload.env, in.workload.env);
  ASSERT_EQ(out.workload.planted.size(), 2u);
  EXPECT_EQ(out.workload.planted[0].path, "/run/secrets/token");
  EXPECT_EQ(out.workload.planted[0].content, in.workload.planted[0].content) << "binary content";
  EXPECT_EQ(out.workload.planted[0].mode, 0600u);
  EXPECT_EQ(out.workload.cgroup, "case-1");
  EXPECT_EQ(out.workload.http_socket, "/run/armorbench/model.sock");
  EXPECT_EQ(out.workload.limits.cpus, 1.5);
  EXPECT_EQ(out.workload.limits.memory_bytes, 512ull << 20);
  EXPECT_EQ(out.workload.limits.pids, 128);
  EXPECT_FALSE(out.workload.unconfined);
  StartRequest tool = in;
  tool.workload.unconfined = true;
  EXPECT_TRUE(decode_start(parse_line(to_line(encode_start(tool)))).workload.unconfined);
  EXPECT_EQ(out.enforcer.mode, EnforcerMode::kBlock);
  EXPECT_EQ(out.enforcer.policies, in.enforcer.policies);
  EXPECT_EQ(out.enforcer.backend, Backend::kBpfLsm);
  EXPECT_TRUE(out.enforcer.watch_exec);
  EXPECT_EQ(out.enforcer.default_posture, DefaultPosture::kAudit);
  EXPECT_TRUE(out.enforcer.wanted());
}

TEST(AgentProtocol, DefaultsForAMinimalStart) {
  const StartRequest r =
      decode_start(json::parse(R"({"op":"start","workload":{"argv":["/bin/true"]}})"));
  EXPECT_EQ(r.workload.cgroup, "workload");
  EXPECT_FALSE(r.workload.unconfined) << "confined unless asked";
  EXPECT_EQ(r.enforcer.mode, EnforcerMode::kOff);
  EXPECT_FALSE(r.enforcer.wanted());
  EXPECT_EQ(r.enforcer.backend, Backend::kAuto);
  EXPECT_FALSE(r.workload.limits.any());
}

void expect_refused(const std::string& op_text, const std::string& fragment) {
  try {
    decode_start(json::parse(op_text));
    ADD_FAILURE() << "accepted: " << op_text;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(AgentProtocol, RefusesBadStarts) {
  expect_refused(R"({"op":"start"})", "'workload' must be an object");
  expect_refused(R"({"workload":{"argv":[]}})", "absolute path");
  expect_refused(R"({"workload":{"argv":["python3"]}})", "absolute path");
  expect_refused(R"({"workload":{"argv":"/bin/true"}})", "wrong type");
  expect_refused(R"({"workload":{"argv":["/bin/true"],"env":["=x"]}})", "NAME=value");
  expect_refused(R"({"workload":{"argv":["/bin/true"],"cgroup":"../escape"}})",
                 "single cgroup name");
  expect_refused(
      R"({"workload":{"argv":["/bin/true"],"planted":[{"path":"/etc/passwd","content_b64":""}]}})",
      "below /tmp, /run or /dev");
  expect_refused(
      R"({"workload":{"argv":["/bin/true"],"planted":[{"path":"/tmp/a","content_b64":"!!"}]}})",
      "not base64");
  expect_refused(R"({"workload":{"argv":["/bin/true"],"limits":{"pids":0}}})", "must be positive");
  expect_refused(R"({"workload":{"argv":["/bin/true"]},"enforcer":{"mode":"enforce"}})",
                 "not off, audit or block");
  expect_refused(R"({"workload":{"argv":["/bin/true"]},"enforcer":{"mode":"block"}})",
                 "at least one policy");
  expect_refused(R"({"workload":{"argv":["/bin/true"]},"enforcer":{"default_posture":"allow"}})",
                 "not block or audit");
  expect_refused(
      R"({"workload":{"argv":["/bin/true"]},"enforcer":{"mode":"off","backend":"kprobe"}})",
      "not auto, tracepoint or bpf-lsm");
}

// Found by fuzz_agent_protocol: a float too large for the integer field was converted (undefined
// behaviour), and a float or boolean in a number field was silently truncated.
TEST(AgentProtocol, NumbersMustFitTheirField) {
  const auto planted_mode = [](const std::string& mode) {
    return R"({"workload":{"argv":["/bin/true"],"planted":[{"path":"/tmp/a","content_b64":"","mode":)" +
           mode + "}]}}";
  };
  expect_refused(planted_mode("1e300"), "must be an integer");
  expect_refused(planted_mode("420.5"), "must be an integer");
  expect_refused(planted_mode("true"), "must be an integer");
  expect_refused(planted_mode("-1"), "out of range");
  expect_refused(planted_mode("4294967296"), "out of range");
  expect_refused(R"({"workload":{"argv":["/bin/true"],"limits":{"memory_bytes":-5}}})",
                 "out of range");
  expect_refused(R"({"workload":{"argv":["/bin/true"],"limits":{"pids":1e30}}})",
                 "must be an integer");
  expect_refused(R"({"workload":{"argv":["/bin/true"],"limits":{"cpus":true}}})",
                 "must be a number");
  expect_refused(R"({"workload":{"argv":["/bin/true"]},"enforcer":{"watch_exec":1}})",
                 "must be true or false");
  const StartRequest r = decode_start(json::parse(planted_mode("420")));
  EXPECT_EQ(r.workload.planted.at(0).mode, 0644u);
}

// Every input fuzz_agent_protocol found (tests/fuzz/regressions/) ends in an input error.
TEST(AgentProtocol, FuzzFoundInputsAreInputErrors) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ARMORBENCH_VMS_FUZZ_REGRESSIONS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      decode_start(parse_line(line));
      ADD_FAILURE() << entry.path() << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << entry.path() << ": " << e.what();
    }
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(AgentProtocol, PlantablePaths) {
  EXPECT_TRUE(plantable_path("/tmp/x"));
  EXPECT_TRUE(plantable_path("/run/secrets/kubernetes.io/token"));
  EXPECT_TRUE(plantable_path("/dev/nvidia0"));
  EXPECT_FALSE(plantable_path("/tmp"));
  EXPECT_FALSE(plantable_path("/tmp/../etc/passwd"));
  EXPECT_FALSE(plantable_path("/run//x"));
  EXPECT_FALSE(plantable_path("/run/./x"));
  EXPECT_FALSE(plantable_path("/tmpfoo/x"));
  EXPECT_FALSE(plantable_path("/etc/x"));
  EXPECT_FALSE(plantable_path("tmp/x"));
}

TEST(AgentProtocol, CgroupNames) {
  EXPECT_TRUE(valid_cgroup_name("workload"));
  EXPECT_TRUE(valid_cgroup_name("case-1_a.b"));
  EXPECT_FALSE(valid_cgroup_name(""));
  EXPECT_FALSE(valid_cgroup_name(".."));
  EXPECT_FALSE(valid_cgroup_name("a/b"));
}

TEST(AgentProtocol, LinesAreJsonObjects) {
  EXPECT_EQ(parse_line(R"({"event":"hello","id":7})")["event"], "hello");
  EXPECT_THROW(parse_line("[1,2]"), Error);
  EXPECT_THROW(parse_line("HELLO uptime=3.2"), Error);
  EXPECT_EQ(message_id(json::parse(R"({"id":7})")), 7u);
  EXPECT_EQ(message_id(json::parse(R"({"id":"7"})")), std::nullopt);
  EXPECT_EQ(message_id(json::parse(R"({})")), std::nullopt);
  // A workload's invalid UTF-8 is replaced, not a reason to drop the line.
  const std::string line = to_line({{"text", std::string("caf\xe9")}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NO_THROW(parse_line(line));
}

TEST(LineSplitter, SplitsAcrossChunksAndCutsLongLines) {
  agent::LineSplitter lines(8);
  lines.append("ab");
  std::string line;
  EXPECT_FALSE(lines.next(line));
  lines.append("c\nde\n");
  EXPECT_TRUE(lines.next(line));
  EXPECT_EQ(line, "abc");
  EXPECT_TRUE(lines.next(line));
  EXPECT_EQ(line, "de");
  lines.append("0123456789\n");
  bool cut = false;
  EXPECT_TRUE(lines.next(line, &cut));
  EXPECT_EQ(line, "01234567");
  EXPECT_TRUE(cut);
  EXPECT_TRUE(lines.next(line, &cut));
  EXPECT_EQ(line, "89");
  EXPECT_FALSE(cut);
  lines.append("tail");
  EXPECT_EQ(lines.take_rest(), "tail");
}

TEST(OutputQueue, KeepsWhatAFullPipeDidNotTake) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  agent::OutputQueue queue;
  const std::string big(1 << 20, 'x');  // more than a pipe holds (64 KiB by default)
  queue.push(big);
  ASSERT_TRUE(queue.write_some(write_end.get()));
  EXPECT_FALSE(queue.empty());
  std::string got;
  char buffer[65536];
  while (!queue.empty() || got.size() < big.size()) {
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
    ASSERT_TRUE(queue.write_some(write_end.get()));
  }
  EXPECT_EQ(got, big);
}

}  // namespace
}  // namespace armorbench::vms

namespace armorbench::vms {
namespace {

TEST(AgentProtocolSnapshot, PrewarmRoundTripsAndIsValidated) {
  PrewarmRequest request;
  request.argv = {"/usr/bin/python3", "-c", "print(1)"};
  request.env = {"HOME=/tmp"};
  request.cgroup = "workload";
  request.ready_timeout_s = 90;
  const nlohmann::json op = encode_prewarm(request);
  EXPECT_EQ(op.value("op", ""), "prewarm");
  const PrewarmRequest back = decode_prewarm(op);
  EXPECT_EQ(back.argv, request.argv);
  EXPECT_EQ(back.env, request.env);
  EXPECT_EQ(back.cgroup, "workload");
  EXPECT_EQ(back.ready_timeout_s, 90);

  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"argv", nlohmann::json::array({"python3"})},
           {"argv", nlohmann::json::array()},
           {"env", nlohmann::json::array({"NOEQUALS"})},
           {"cgroup", "../escape"},
           {"ready_timeout_s", 0}}) {
    nlohmann::json bad = op;
    bad[key] = value;
    EXPECT_THROW(decode_prewarm(bad), Error) << key << "=" << value.dump();
  }
}

TEST(AgentProtocolSnapshot, ResumeRoundTripsAndIsValidated) {
  ResumeRequest request;
  request.unix_time_ns = 1'800'000'000'000'000'000;
  request.entropy = std::string(64, '\x7f');
  request.enforcer = "/var/tmp/armorbench-x/guest-files-kata/armorbench-enforcer";
  const nlohmann::json op = encode_resume(request);
  const ResumeRequest back = decode_resume(op);
  EXPECT_EQ(back.unix_time_ns, request.unix_time_ns);
  EXPECT_EQ(back.entropy, request.entropy);
  EXPECT_EQ(back.enforcer, request.enforcer);

  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"unix_time_ns", 0},
           {"unix_time_ns", 1.5},
           {"entropy_b64", "c2hvcnQ="},  // "short": fewer than 32 bytes
           {"entropy_b64", "***"},
           {"enforcer", "relative/enforcer"}}) {
    nlohmann::json bad = op;
    bad[key] = value;
    EXPECT_THROW(decode_resume(bad), Error) << key << "=" << value.dump();
  }
}

}  // namespace
}  // namespace armorbench::vms
