// The attack kinds without a sandbox: each parses its own keys (and refuses others, located),
// declares its objective and the operations a policy must deny, and its objectives observe a
// fake AttackSurface the way they observe a real one.
#include "armorbench/attacks/Attack.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>

#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/TomlTable.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;

constexpr const char* kMarkerPath = "/tmp/abx-marker";  // where in-sandbox payloads report

std::shared_ptr<const AttackDefinition> parse(const std::string& text,
                                              const AttackParseContext& context = {}) {
  const toml::table declared = toml::parse(text);
  TomlTable table(declared, std::make_shared<const std::string>("kinds-test.toml"), "attack");
  return parse_attack(table, context);
}

// A sandbox stand-in: files it holds, execs it saw, a pid, and a sibling that only records.
class FakeSurface final : public AttackSurface {
 public:
  std::map<std::string, std::string> files;
  std::vector<ExecutedProgram> execs;
  std::vector<SiblingSpec> siblings;
  CommandResult sibling_result = [] {
    CommandResult refused;  // the dumper's report when the kernel refuses its open of mem
    refused.status.code = 2;
    refused.out =
        R"({"found":false,"outcome":"failed","bytes_scanned":0,"errors":[{"stage":"open_mem",)"
        R"("errno":1,"message":"/proc/1/mem: Operation not permitted","count":1}]})";
    return refused;
  }();

  std::string host_address() const override { return "127.0.0.1"; }
  std::optional<std::string> read_file(const std::string& path) override {
    auto it = files.find(path);
    return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  ModelHolder model_holder() override { return {::getpid(), "this test"}; }
  MemoryDumpInfo dump_memory(const fs::path&) override {
    throw unsupported_error("no hypervisor here");
  }
  CommandResult run_sibling(const SiblingSpec& sibling) override {
    siblings.push_back(sibling);
    return sibling_result;
  }
  std::vector<ExecutedProgram> executed_programs() override { return execs; }
  StorageUsage storage = {};
  StorageUsage storage_usage() override { return storage; }
  // A connection whose peer wrote `http_response` and keeps its end open (the client's request
  // goes unread; a second request waits for an answer that never comes); no response set: the
  // server is down. Called from an attack's threads too; the 64 newest peers are kept.
  std::string http_response;
  std::mutex mutex;
  std::deque<UniqueFd> peers;
  UniqueFd connect_inference() override {
    std::lock_guard lock(mutex);
    if (http_response.empty()) throw environment_error("connect: Connection refused");
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw environment_error("socketpair failed");
    peers.emplace_back(fds[1]);
    if (peers.size() > 64) peers.pop_front();
    if (::write(fds[1], http_response.data(), http_response.size()) !=
        static_cast<ssize_t>(http_response.size()))
      throw environment_error("the canned response did not fit the socket buffer");
    return UniqueFd(fds[0]);
  }
};

// An HTTP/1.1 200 answer carrying `body`.
std::string http_ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(AttackKinds, EveryKindIsRegisteredByName) {
  const auto names = attack_kind_names();
  for (const char* kind :
       {"pickle-injection", "cryptominer", "memory-dump", "secret-exfiltration", "cuda-abuse",
        "fork-bomb", "memory-hog", "custom", "evasion", "onnx-external-data"})
    EXPECT_NE(std::find(names.begin(), names.end(), kind), names.end()) << kind;
}

TEST(AttackKinds, EveryKindDescribesItselfForReports) {
  // SARIF rules and the HTML report read these: a summary, a CWE id, a CVSS-scale severity.
  const std::vector<std::string> names = attack_kind_names();
  ASSERT_EQ(attack_kinds().size(), names.size());
  const std::regex cwe("^CWE-[1-9][0-9]*$");
  for (std::size_t i = 0; i < names.size(); ++i) {
    const AttackKindInfo& kind = attack_kinds()[i];
    EXPECT_EQ(kind.name, names[i]);
    EXPECT_GT(kind.summary.size(), 20u) << kind.name;
    EXPECT_TRUE(std::regex_match(kind.cwe, cwe)) << kind.name << ": " << kind.cwe;
    EXPECT_GT(kind.severity, 0.0) << kind.name;
    EXPECT_LE(kind.severity, 10.0) << kind.name;
  }
}

TEST(AttackKinds, PickleInjectionOwnsItsKeysAndDeclaresTheShellExec) {
  const auto shell = parse("kind = 'pickle-injection'\ngadget = 'os.system'");
  EXPECT_EQ(shell->kind(), "pickle-injection");
  EXPECT_EQ(shell->parameters()["format"], "pt");
  ASSERT_EQ(shell->expected_operations().size(), 1u);
  EXPECT_EQ(shell->expected_operations()[0].operation, Operation::kExec);
  EXPECT_EQ(shell->expected_operations()[0].resource, "/bin/sh");
  EXPECT_EQ(shell->objective()["type"], "file_created");

  const auto beacon = parse("kind = 'pickle-injection'\ngadget = 'builtins.exec'");
  EXPECT_EQ(beacon->parameters()["action"], "connect");
  EXPECT_EQ(beacon->objective()["type"], "connect");
  EXPECT_EQ(beacon->expected_operations()[0].operation, Operation::kSocket);
  EXPECT_EQ(beacon->expected_operations()[1].operation, Operation::kConnect);
}

TEST(AttackKinds, UnknownKeysAndKindsAreLocatedInputErrors) {
  try {
    parse("kind = 'pickle-injection'\ngadget = 'os.system'\nmethod = 'ptrace'");
    FAIL() << "a memory-dump key on a pickle-injection was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(e.describe().find("kinds-test.toml:3"), std::string::npos) << e.describe();
  }
  try {
    parse("kind = 'memory-dumb'\nmethod = 'ptrace'");
    FAIL() << "a misspelt kind was accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.describe().find("did you mean 'memory-dump'"), std::string::npos) << e.describe();
  }
  EXPECT_THROW(parse("kind = 'memory-dump'"), Error);  // method is required
}

TEST(AttackKinds, MemoryDumpDeclaresTheOperationOfItsMethod) {
  EXPECT_EQ(parse("kind = 'memory-dump'\nmethod = 'process_vm_readv'")
                ->expected_operations()[0]
                .operation,
            Operation::kVmRead);
  EXPECT_EQ(parse("kind = 'memory-dump'\nmethod = 'io_uring'")->expected_operations()[0].operation,
            Operation::kProcMem);
  EXPECT_TRUE(parse("kind = 'memory-dump'\nmethod = 'core_dump'")->expected_operations().empty());
}

TEST(AttackKinds, ResourceKindsNeedTheirLimit) {
  const auto bomb = parse("kind = 'fork-bomb'");
  EXPECT_EQ(bomb->required_limit(), "pids");
  EXPECT_THROW(bomb->instantiate({}, ResourceLimits{}), Error);
  ResourceLimits limits;
  limits.pids = 64;
  const auto attack = bomb->instantiate({}, limits);
  EXPECT_EQ(attack->objective()["limit"], 64);
  CgroupStats final;
  EXPECT_TRUE(attack->kernel_denials(final).empty());
  final.pids_max_events = 3;
  ASSERT_EQ(attack->kernel_denials(final).size(), 1u);
  EXPECT_TRUE(bomb->expected_operations()[0].matches(attack->kernel_denials(final)[0].operation,
                                                     attack->kernel_denials(final)[0].resource));
  EXPECT_EQ(parse("kind = 'memory-hog'")->required_limit(), "memory");
}

// What the storage holds is the harness's measurement; the refusal is the kernel's ENOSPC to a
// write of the harness's own, only under the limit's tmpfs.
TEST(AttackKinds, DiskFillIsWhatTheStorageHoldsAndTheLimitsRefusal) {
  const auto fill = parse("kind = 'disk-fill'");
  EXPECT_EQ(fill->required_limit(), "disk");
  EXPECT_THROW(fill->instantiate({}, ResourceLimits{}), Error);
  ResourceLimits limits;
  limits.disk_bytes = 32u << 20;
  const auto attack = fill->instantiate({}, limits);
  FakeSurface surface;
  surface.storage.used_bytes = 96u << 20;  // the control: no limit, the host's disk
  ObjectiveStatus status = attack->observe(surface);
  EXPECT_TRUE(status.reached) << status.detail;
  EXPECT_NE(status.detail.find("64.0 MiB past the 32.0 MiB disk limit"), std::string::npos)
      << status.detail;
  EXPECT_TRUE(status.denials.empty());

  surface.storage = {32u << 20, std::uint64_t{32u << 20}, true, "write: No space left on device"};
  status = attack->observe(surface);
  EXPECT_FALSE(status.reached) << status.detail;
  ASSERT_EQ(status.denials.size(), 1u);
  EXPECT_EQ(status.denials[0].by, "kernel (tmpfs size=32.0 MiB)");
  EXPECT_TRUE(fill->expected_operations()[0].matches(status.denials[0].operation,
                                                     status.denials[0].resource));

  surface.storage.full = false;  // room left: nothing was refused
  surface.storage.used_bytes = 1u << 20;
  status = attack->observe(surface);
  EXPECT_FALSE(status.reached);
  EXPECT_TRUE(status.denials.empty());
}

TEST(AttackKinds, CustomNeedsAModelFileAndPicksItsObjective) {
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'exec', path = '/bin/sh' }"), Error);
  const AttackParseContext with_file{"s.toml", fs::path("/dev/null"), Loader::kTorch};
  const auto exec =
      parse("kind = 'custom'\nobjective = { type = 'exec', path = '/bin/sh' }", with_file);
  EXPECT_EQ(exec->expected_operations()[0].operation, Operation::kExec);
  EXPECT_TRUE(exec->instantiate({}, {})->needs_exec_watch());
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'exec', path = 'sh' }", with_file),
               Error);  // relative
  // A connection alone proves nothing: the bytes it must carry are required.
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'connect', port = 4444 }", with_file),
               Error);
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'connect', port = 4444, "
                     "contains = 'x', host = 'example.com' }",
                     with_file),
               Error);  // the listener binds an address, not a name
  const auto connect = parse(
      "kind = 'custom'\nobjective = { type = 'connect', host = '127.0.0.2', port = 4444, "
      "contains = 'hello' }",
      with_file);
  EXPECT_EQ(connect->expected_operations()[1].resource, "*:4444");
  EXPECT_EQ(connect->objective()["host"], "127.0.0.2");
  EXPECT_EQ(connect->objective()["contains"], "hello");
}

TEST(AttackKinds, PickleInjectionsContainerFollowsTheLoader) {
  const auto joblib = parse("kind = 'pickle-injection'\ngadget = 'os.system'",
                            {"s.toml", std::nullopt, Loader::kJoblib});
  EXPECT_EQ(joblib->parameters()["format"], "joblib");
  const auto plain = parse("kind = 'pickle-injection'\ngadget = 'os.system'",
                           {"s.toml", std::nullopt, Loader::kPickle});
  EXPECT_EQ(plain->parameters()["format"], "pickle");
  // A joblib file is what joblib.load reads, and joblib.load reads nothing else.
  EXPECT_THROW(parse("kind = 'pickle-injection'\ngadget = 'os.system'\nformat = 'joblib'",
                     {"s.toml", std::nullopt, Loader::kTorch}),
               Error);
  EXPECT_THROW(parse("kind = 'pickle-injection'\ngadget = 'os.system'\nformat = 'pt'",
                     {"s.toml", std::nullopt, Loader::kJoblib}),
               Error);
}

TEST(AttackKinds, OnnxExternalDataNeedsTheOnnxLoaderAndATechnique) {
  const AttackParseContext onnx{"s.toml", std::nullopt, Loader::kOnnx};
  EXPECT_THROW(parse("kind = 'onnx-external-data'", onnx), Error);
  EXPECT_THROW(parse("kind = 'onnx-external-data'\ntechnique = 'hardlink'", onnx), Error);
  EXPECT_THROW(parse("kind = 'onnx-external-data'\ntechnique = 'symlink'"), Error);  // torch
  const auto symlink = parse("kind = 'onnx-external-data'\ntechnique = 'symlink'", onnx);
  EXPECT_EQ(symlink->objective()["type"], "secret_in_response");
  ASSERT_EQ(symlink->expected_operations().size(), 1u);
  EXPECT_EQ(symlink->expected_operations()[0].operation, Operation::kOpen);
  EXPECT_EQ(symlink->expected_operations()[0].resource,
            "/run/secrets/kubernetes.io/serviceaccount/token");
}

TEST(AttackKinds, CustomSecretInResponsePlantsAFreshSecretPerCaseUnderTmpOrRun) {
  const AttackParseContext with_file{"s.toml", fs::path("/dev/null"), Loader::kOnnx};
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'secret_in_response', "
                     "path = '/etc/shadow' }",
                     with_file),
               Error);  // the harness plants it: only where the sandbox has scratch space
  const auto leak = parse(
      "kind = 'custom'\nobjective = { type = 'secret_in_response', path = '/run/secrets/key' }",
      with_file);
  EXPECT_EQ(leak->expected_operations()[0].operation, Operation::kOpen);
  EXPECT_EQ(leak->expected_operations()[0].resource, "/run/secrets/key");

  ModelArtifacts model;
  model.dir = "/nonexistent";
  model.declared = true;
  model.name = "user-model";
  model.requests = {nlohmann::json::array()};
  std::vector<std::string> secrets;
  for (int run = 0; run < 2; ++run) {
    WorkloadSpec workload;
    leak->instantiate({}, {})->prepare(model, "/nonexistent", "127.0.0.1", workload);
    ASSERT_EQ(workload.planted.size(), 1u);
    EXPECT_EQ(workload.planted[0].sandbox_path, "/run/secrets/key");
    secrets.push_back(workload.planted[0].content);
  }
  // One secret for every run of the case (its off run's answers are the others' reference), a
  // fresh one for another case.
  EXPECT_EQ(secrets[0], secrets[1]);
  EXPECT_EQ(secrets[0].rfind("armorbench-secret-", 0), 0u);
  const auto other = parse(
      "kind = 'custom'\nobjective = { type = 'secret_in_response', path = '/run/secrets/key' }",
      with_file);
  WorkloadSpec workload;
  other->instantiate({}, {})->prepare(model, "/nonexistent", "127.0.0.1", workload);
  EXPECT_NE(workload.planted.at(0).content, secrets[0]);
}

TEST(Objectives, ResponseByteViewsReadEachDatatypesBytesAndOneBytePerValue) {
  const nlohmann::json outputs = nlohmann::json::parse(R"([
    {"name": "u8", "datatype": "UINT8", "shape": [3], "data": [104, 105, 33]},
    {"name": "i64", "datatype": "INT64", "shape": [2], "data": [104, 105]},
    {"name": "f32", "datatype": "FP32", "shape": [1], "data": [1.0]}])");
  const auto views = response_byte_views(outputs);
  const auto has = [&](const std::string& name, const std::string& bytes) {
    return std::any_of(views.begin(), views.end(), [&](const auto& view) {
      return view.first == name && view.second == bytes;
    });
  };
  EXPECT_TRUE(has("u8", "hi!"));
  EXPECT_TRUE(has("i64", "hi")) << "one byte per value";
  EXPECT_TRUE(has("i64", std::string("h\0\0\0\0\0\0\0i\0\0\0\0\0\0\0", 16))) << "packed INT64";
  EXPECT_TRUE(has("f32", std::string("\x00\x00\x80\x3f", 4))) << "1.0f little-endian";
  EXPECT_TRUE(response_byte_views(nlohmann::json::object()).empty());
}

TEST(Objectives, ASecretInResponseIsTheSecretsBytesInAnAnswerTheHarnessGot) {
  ModelArtifacts model;
  model.name = "m";
  model.declared = true;
  model.requests = {nlohmann::json::array(
      {{{"name", "x"}, {"datatype", "FP32"}, {"shape", {1}}, {"data", {0.5}}}})};
  const std::string secret = "s3cr";
  nlohmann::json leaked = nlohmann::json::array();
  for (char c : secret) leaked.push_back(static_cast<int>(c));
  const auto answer = [](const nlohmann::json& outputs) {
    return http_ok(nlohmann::json{{"model_name", "m"}, {"outputs", outputs}}.dump());
  };

  ResponseLeakObjective objective("/run/secrets/key", secret, "leak");
  objective.prepare(model, "/nonexistent");
  FakeSurface surface;
  surface.http_response = answer(nlohmann::json::array(
      {{{"name", "y"}, {"datatype", "FP32"}, {"shape", {1}}, {"data", {0.25}}},
       {{"name", "leak"}, {"datatype", "UINT8"}, {"shape", {4}}, {"data", leaked}}}));
  ObjectiveStatus status = objective.observe(surface);
  EXPECT_TRUE(status.reached) << status.detail;
  EXPECT_NE(status.detail.find("output 'leak'"), std::string::npos) << status.detail;

  surface.http_response = answer(nlohmann::json::array(
      {{{"name", "y"}, {"datatype", "FP32"}, {"shape", {1}}, {"data", {0.25}}}}));
  status = objective.observe(surface);
  EXPECT_FALSE(status.reached) << status.detail;
  EXPECT_TRUE(status.attempted);

  // A model that read a guessed length leaks a part: 16 of the random bytes are proof, fewer
  // (or only the fixed prefix) are not.
  const std::string random = "0123456789abcdef0123";
  ResponseLeakObjective partial("/run/secrets/key", "fixed-prefix-" + random, "leak", 13);
  partial.prepare(model, "/nonexistent");
  for (const auto& [part, leaked_enough] :
       std::vector<std::pair<std::string, bool>>{{"fixed-prefix-0123456789abcdef", true},
                                                 {"fixed-prefix-0123456789", false},
                                                 {random.substr(2, 16), true}}) {
    nlohmann::json bytes = nlohmann::json::array();
    for (char c : part) bytes.push_back(static_cast<int>(c));
    surface.http_response = answer(nlohmann::json::array(
        {{{"name", "leak"}, {"datatype", "UINT8"}, {"shape", {part.size()}}, {"data", bytes}}}));
    EXPECT_EQ(partial.observe(surface).reached, leaked_enough) << part;
  }

  surface.http_response.clear();  // the server never came up (its load was refused)
  status = objective.observe(surface);
  EXPECT_FALSE(status.reached);
  EXPECT_NE(status.detail.find("no answer"), std::string::npos) << status.detail;
}

TEST(AttackKinds, DenialOfServiceOwnsItsKeysAndNeedsNoOperation) {
  EXPECT_THROW(parse("kind = 'denial-of-service'"), Error);
  EXPECT_THROW(parse("kind = 'denial-of-service'\ntechnique = 'flood'\nduration = '0s'"), Error);
  EXPECT_THROW(parse("kind = 'denial-of-service'\ntechnique = 'flood'\nmax_error_rate = 2"), Error);
  const auto slowloris = parse("kind = 'denial-of-service'\ntechnique = 'slowloris'");
  EXPECT_EQ(slowloris->parameters()["clients"], 256);
  EXPECT_EQ(slowloris->objective()["type"], "availability");
  // A client of the serving path runs nothing in the sandbox: nothing for a policy to refuse.
  EXPECT_TRUE(slowloris->expected_operations().empty());
}

// The attack's mechanics against a server that answers at once: the benign client is measured
// before and during, the attackers stop and are joined, and nothing slowed means not reached.
TEST(AttackKinds, DenialOfServiceMeasuresTheBenignClientBeforeAndDuring) {
  for (const char* technique : {"flood", "oversized", "slowloris"}) {
    const auto dos = parse(std::string("kind = 'denial-of-service'\ntechnique = '") + technique +
                           "'\nclients = 2\nduration = '1s'");
    ModelArtifacts model;
    model.name = "m";
    model.declared = true;
    model.requests = {nlohmann::json::array(
        {{{"name", "x"}, {"datatype", "FP32"}, {"shape", {1, 2}}, {"data", {0.5, 1.5}}}})};
    WorkloadSpec workload;
    auto attack = dos->instantiate({}, {});
    attack->prepare(model, "/nonexistent", "127.0.0.1", workload);
    FakeSurface surface;
    EXPECT_NE(attack->observe(surface).detail.find("never became ready"), std::string::npos);
    surface.http_response = http_ok(
        R"({"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[1],"data":[1]}]})");
    attack->while_serving(surface);
    const ObjectiveStatus status = attack->observe(surface);
    EXPECT_FALSE(status.reached) << technique << ": " << status.detail;
    EXPECT_NE(status.detail.find("the serving path held"), std::string::npos) << status.detail;
    ASSERT_EQ(status.evidence.size(), 1u);
    EXPECT_GT(status.evidence[0].data["probes"].get<int>(), 0) << technique;
    EXPECT_EQ(status.evidence[0].data["errors"], 0) << technique;
  }
}

TEST(ExpectedOperations, MatchTheOperationAndItsResource) {
  const ExpectedOperation shell{Operation::kExec, "/bin/sh", ""};
  EXPECT_TRUE(shell.matches(Operation::kExec, "/bin/sh"));
  // /bin/sh is a link: an enforcer that records the resolved file is recording the same exec.
  EXPECT_TRUE(shell.matches(Operation::kExec, fs::canonical("/bin/sh").string()));
  EXPECT_FALSE(shell.matches(Operation::kExec, "/usr/bin/python3"));
  EXPECT_FALSE(shell.matches(Operation::kOpen, "/bin/sh"));
  const ExpectedOperation glob{Operation::kOpen, "/run/secrets/*/token", ""};
  EXPECT_TRUE(glob.matches(Operation::kOpen, "/run/secrets/sa/token"));
  EXPECT_FALSE(glob.matches(Operation::kOpen, "/run/secrets/sa/ca.crt"));
  const ExpectedOperation listener{Operation::kConnect, "*:4444", ""};
  EXPECT_TRUE(listener.matches(Operation::kConnect, "10.0.2.2:4444"));
  EXPECT_FALSE(listener.matches(Operation::kConnect, "10.0.2.2:4445"));
  const ExpectedOperation any{Operation::kVmRead, "", ""};
  EXPECT_TRUE(any.matches(Operation::kVmRead, "pid 7"));
}

TEST(Objectives, MarkerNeedsTheNonceNotJustTheFile) {
  FakeSurface surface;
  MarkerObjective marker("/tmp/m", "nonce-1", "a shell ran");
  EXPECT_FALSE(marker.observe(surface).reached);
  surface.files["/tmp/m"] = "something else";
  const ObjectiveStatus without = marker.observe(surface);
  EXPECT_FALSE(without.reached);
  EXPECT_NE(without.detail.find("without"), std::string::npos) << without.detail;
  surface.files["/tmp/m"] = "nonce-1\n";
  EXPECT_TRUE(marker.observe(surface).reached);
  EXPECT_EQ(marker.sandbox_files(), std::vector<std::string>{"/tmp/m"});
}

TEST(Objectives, AChangedFileIsOneGoneOrHoldingAnythingButWhatWasPlanted) {
  FakeSurface surface;
  FileChangedObjective changed("/run/t", "planted-1", "the token was changed");
  surface.files["/run/t"] = "planted-1";
  const ObjectiveStatus intact = changed.observe(surface);
  EXPECT_FALSE(intact.reached);
  EXPECT_NE(intact.detail.find("as planted"), std::string::npos) << intact.detail;
  surface.files["/run/t"] = "";
  EXPECT_TRUE(changed.observe(surface).reached);
  surface.files["/run/t"] = "planted-2";
  EXPECT_TRUE(changed.observe(surface).reached);
  surface.files.erase("/run/t");
  const ObjectiveStatus gone = changed.observe(surface);
  EXPECT_TRUE(gone.reached);
  EXPECT_NE(gone.detail.find("gone"), std::string::npos) << gone.detail;
  EXPECT_EQ(changed.sandbox_files(), std::vector<std::string>{"/run/t"});
  EXPECT_EQ(changed.describe()["type"], "file_changed");
}

TEST(Objectives, ExecIsAProgramThatRanNotOneKilledAtItsExec) {
  FakeSurface surface;
  ExecObjective exec("/bin/sh");
  surface.execs = {{"/usr/bin/python3", 10, false, ""}};
  EXPECT_FALSE(exec.observe(surface).reached);
  // The tracepoint backend kills a refused exec with SIGKILL after the image is mapped: the
  // watch saw it start, but nothing of it ran.
  surface.execs.push_back({"/bin/sh", 11, true, "enforcer (tracepoint), rule no-shells"});
  const ObjectiveStatus killed = exec.observe(surface);
  EXPECT_FALSE(killed.reached);
  EXPECT_NE(killed.detail.find("killed at the exec"), std::string::npos) << killed.detail;
  EXPECT_NE(killed.detail.find("no-shells"), std::string::npos) << killed.detail;
  surface.execs.push_back({fs::canonical("/bin/sh").string(), 12, false, ""});
  const ObjectiveStatus ran = exec.observe(surface);
  EXPECT_TRUE(ran.reached);
  EXPECT_NE(ran.detail.find("pid 12"), std::string::npos) << ran.detail;
}

TEST(Objectives, BothCudaStandInsMustBeRead) {
  const auto cuda = parse("kind = 'cuda-abuse'");
  const fs::path source(ARMORBENCH_SOURCE_DIR);
  const fs::path dir = fs::temp_directory_path() / ("kinds-cuda-" + std::to_string(::getpid()));
  const ModelArtifacts model = generate_model(source, dir / "model", {4, 8, 3});
  WorkloadSpec workload;
  auto attack = cuda->instantiate({source, ""}, {});
  fs::create_directories(dir / "run");
  attack->prepare(model, dir / "run", "127.0.0.1", workload);
  fs::remove_all(dir);
  ASSERT_EQ(workload.planted.size(), 2u);
  std::vector<std::string> nonces;
  for (const PlantedFile& file : workload.planted)
    nonces.push_back(file.content.substr(file.content.rfind(' ') + 1));
  EXPECT_NE(nonces[0], nonces[1]);
  FakeSurface surface;
  surface.files[kMarkerPath] = R"({"read":{"libcuda":")" + nonces[0] + R"("}})";
  EXPECT_FALSE(attack->observe(surface).reached) << "one stand-in alone counted";
  surface.files[kMarkerPath] =
      R"({"read":{"a":")" + nonces[0] + R"(","b":")" + nonces[1] + R"("}})";
  EXPECT_TRUE(attack->observe(surface).reached);
}

TEST(Objectives, ResourceCountsComeFromThePayloadsReport) {
  FakeSurface surface;
  ResourceObjective pids(ResourceObjective::Resource::kPids, 64, "/tmp/abx-marker");
  EXPECT_FALSE(pids.observe(surface).reached);
  surface.files["/tmp/abx-marker"] = R"({"forked": 63})";
  EXPECT_FALSE(pids.observe(surface).reached);
  surface.files["/tmp/abx-marker"] = R"({"forked": 64})";
  EXPECT_TRUE(pids.observe(surface).reached);
}

// Runs a sibling dump whose result the fake surface returns, and observes it.
ObjectiveStatus sibling_dump(FakeSurface& surface) {
  const fs::path bin_dir =
      fs::temp_directory_path() / ("kinds-test-bin-" + std::to_string(::getpid()));
  fs::create_directories(bin_dir);
  std::ofstream(bin_dir / "armorbench-memdump") << "stand-in\n";
  // No canary declared: prepare() gives it the served model's own.
  CanaryObjective canary(DumpRequest{"proc_mem", "sibling", ""}, AttackContext{"", bin_dir});
  ModelArtifacts model;
  model.canary_hex = "00112233";
  canary.prepare(model, bin_dir);
  canary.while_serving(surface);
  fs::remove_all(bin_dir);
  return canary.observe(surface);
}

TEST(Objectives, ASiblingDumpRefusedWithEpermIsADenialOfItsOperation) {
  FakeSurface surface;
  const ObjectiveStatus status = sibling_dump(surface);
  // The sibling path goes through the surface: the tool is bound in, CAP_SYS_PTRACE is asked.
  ASSERT_EQ(surface.siblings.size(), 1u);
  const auto& argv = surface.siblings[0].argv;
  EXPECT_NE(std::find(argv.begin(), argv.end(), "00112233"), argv.end());
  ASSERT_EQ(surface.siblings[0].binds.size(), 1u);
  EXPECT_EQ(surface.siblings[0].capabilities, std::vector<std::string>{"CAP_SYS_PTRACE"});
  EXPECT_EQ(surface.siblings[0].argv[0], "/run/armorbench-memdump");
  EXPECT_FALSE(status.reached);
  EXPECT_FALSE(status.attempted);
  ASSERT_EQ(status.denials.size(), 1u);
  EXPECT_EQ(status.denials[0].operation, Operation::kProcMem);
  EXPECT_TRUE(memory_operations_for("proc_mem")[0].matches(status.denials[0].operation,
                                                           status.denials[0].resource));
}

TEST(Objectives, ADeadTargetACrashOrATimeoutIsNoDenial) {
  FakeSurface surface;
  surface.sibling_result.out =
      R"({"found":false,"outcome":"failed","bytes_scanned":0,"errors":[{"stage":"open_maps",)"
      R"("errno":3,"message":"/proc/1/maps: No such process","count":1}]})";
  ObjectiveStatus status = sibling_dump(surface);
  EXPECT_TRUE(status.denials.empty()) << status.detail;
  EXPECT_NE(status.detail.find("No such process"), std::string::npos) << status.detail;

  surface.sibling_result = {};
  surface.sibling_result.timed_out = true;
  surface.sibling_result.status.signal = SIGKILL;  // the harness's own kill at its time limit
  status = sibling_dump(surface);
  EXPECT_TRUE(status.denials.empty()) << status.detail;
  EXPECT_NE(status.detail.find("time limit"), std::string::npos) << status.detail;

  surface.sibling_result = {};
  surface.sibling_result.status.signal = SIGSEGV;
  EXPECT_TRUE(sibling_dump(surface).denials.empty());
}

TEST(Objectives, ASigkillIsRecordedButNamesNoOperation) {
  // Who sent it is not in the exit status: only the enforcer's own event can attribute it.
  FakeSurface surface;
  surface.sibling_result = {};
  surface.sibling_result.status.signal = SIGKILL;
  const ObjectiveStatus status = sibling_dump(surface);
  ASSERT_EQ(status.denials.size(), 1u);
  EXPECT_EQ(status.denials[0].operation, Operation::kOther);
}

TEST(Objectives, AFullScanWithoutTheCanaryIsAnAttemptThatRanItsCourse) {
  FakeSurface surface;
  surface.sibling_result = {};
  surface.sibling_result.status.code = 1;
  surface.sibling_result.out =
      R"({"found":false,"outcome":"not_found","bytes_scanned":4096,"errors":[]})";
  const ObjectiveStatus status = sibling_dump(surface);
  EXPECT_FALSE(status.reached);
  EXPECT_TRUE(status.attempted);
  EXPECT_TRUE(status.denials.empty());
}

// Each evasion technique names the side door a denial must be of: a verdict cannot rest on the
// front door's denial alone when the attack took another.
TEST(AttackKinds, EvasionTechniquesDeclareTheirSideDoors) {
  const std::map<std::string, std::pair<Operation, std::string>> side_door{
      {"socket-mptcp", {Operation::kSocket, "socket tcp"}},
      {"socket-raw", {Operation::kSocket, "socket raw"}},
      {"clone-files", {Operation::kSyscall, "clone"}},
      {"unshare-exec", {Operation::kSyscall, "unshare"}},
      {"chroot", {Operation::kOpen, "/secrets/kubernetes.io/serviceaccount/token"}},
      {"cgroup-escape", {Operation::kSyscall, "unshare"}},
      {"rename", {Operation::kOpen, "/run/moved-secrets/kubernetes.io/serviceaccount/token"}},
      {"link", {Operation::kOpen, "/run/token-link"}},
      {"int80", {Operation::kSyscall, "syscall 5 (arch 40000003)"}},
      {"unlink", {Operation::kUnlink, "/run/secrets/kubernetes.io/serviceaccount/token"}},
      {"truncate", {Operation::kSetattr, "/run/secrets/kubernetes.io/serviceaccount/token"}},
      {"replace", {Operation::kRename, "/run/secrets/kubernetes.io/serviceaccount/token"}},
  };
  for (const auto& [technique, door] : side_door) {
    const auto def = parse("kind = \"evasion\"\ntechnique = \"" + technique + "\"");
    EXPECT_EQ(def->kind(), "evasion");
    EXPECT_EQ(def->parameters()["technique"], technique);
    const auto ops = def->expected_operations();
    const auto& operation = door;  // clang 14 lambdas cannot capture a structured binding
    EXPECT_TRUE(std::any_of(ops.begin(), ops.end(), [&](const ExpectedOperation& op) {
      return op.matches(operation.first, operation.second);
    })) << technique;
    // An unrelated syscall refusal is not this technique's.
    EXPECT_FALSE(std::any_of(ops.begin(), ops.end(), [](const ExpectedOperation& op) {
      return op.matches(Operation::kSyscall, "bpf");
    })) << technique;
  }
  try {
    parse("kind = \"evasion\"");
    ADD_FAILURE() << "an evasion without a technique parsed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("technique"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace armorbench::attacks
