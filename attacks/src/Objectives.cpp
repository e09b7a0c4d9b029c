// The reusable objectives. Each says what it saw, or what it looked for and did not see.
#include "armorbench/attacks/Objectives.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <system_error>

#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench::attacks {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kHostDumpTimeout{300'000};  // a guest's QEMU process is large
constexpr const char* kSiblingTool = "/run/armorbench-memdump";

}  // namespace

json ExpectedOperation::to_json() const {
  return {{"operation", to_string(operation)}, {"resource", resource}, {"why", why}};
}

namespace {

// "addr:port" against "addr:port" where either part of the expectation may be "*".
bool address_matches(const std::string& expected, const std::string& actual) {
  const auto split = [](const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::make_pair(text, std::string("*"));
    return std::make_pair(text.substr(0, colon), text.substr(colon + 1));
  };
  const auto [want_host, want_port] = split(expected);
  const auto [host, port] = split(actual);
  return (want_host == "*" || want_host == host) && (want_port == "*" || want_port == port);
}

}  // namespace

bool ExpectedOperation::matches(Operation actual, const std::string& actual_resource) const {
  if (actual != operation) return false;
  if (resource.empty()) return true;
  if (operation == Operation::kConnect || operation == Operation::kSendmsg)
    return address_matches(resource, actual_resource);
  if (resource == actual_resource) return true;
  if (resource.front() != '/') return false;
  if (::fnmatch(resource.c_str(), actual_resource.c_str(), FNM_PATHNAME) == 0) return true;
  return resolved_path(resource) == resolved_path(actual_resource);
}

json Denial::to_json() const {
  json j = {{"by", by},
            {"operation", to_string(operation)},
            {"resource", resource},
            {"refused", refused},
            {"detail", detail}};
  if (!rule.empty()) j["rule"] = rule;
  if (!evidence.is_null()) j["evidence"] = evidence;
  return j;
}

MarkerObjective::MarkerObjective(std::string path, std::string needle, std::string what)
    : path_(std::move(path)), needle_(std::move(needle)), what_(std::move(what)) {}

ObjectiveStatus MarkerObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const auto content = surface.read_file(path_);
  status.reached = content && content->find(needle_) != std::string::npos;
  if (status.reached)
    status.detail = what_ + ": " + path_ + (needle_.empty() ? " exists" : " holds " + needle_);
  else if (content)
    status.detail = what_ + " not proven: " + path_ + " exists without " + needle_;
  else
    status.detail = what_ + " not observed: " + path_ + " was not created";
  status.evidence.push_back({"objective", status.detail, {{"path", path_}, {"needle", needle_}}});
  return status;
}

json MarkerObjective::describe() const {
  return {{"type", "file_created"}, {"path", path_}, {"contains", needle_}, {"what", what_}};
}

ResponseLeakObjective::ResponseLeakObjective(std::string path, std::string secret, std::string what,
                                             std::size_t random_from)
    : path_(std::move(path)),
      secret_(std::move(secret)),
      what_(std::move(what)),
      random_from_(random_from) {}

json first_request(const ModelArtifacts& model) {
  if (model.uses_tensors()) return model.requests.at(0);
  const std::vector<float>& row = model.inputs.at(0);
  return json::array(
      {{{"name", "input-0"}, {"datatype", "FP32"}, {"shape", {1, row.size()}}, {"data", row}}});
}

void ResponseLeakObjective::prepare(const ModelArtifacts& model, const std::filesystem::path&) {
  model_name_ = model.name;
  request_ = first_request(model);
}

ObjectiveStatus ResponseLeakObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  json outputs;
  try {
    OipClient client(surface.connect_inference(), std::chrono::seconds(30));
    outputs = client.infer_tensors(model_name_, request_);
  } catch (const Error& e) {
    status.detail = what_ + " not observed: the model's request got no answer (" + e.what() + ")";
    status.evidence.push_back({"objective", status.detail, {{"path", path_}}});
    return status;
  }
  std::string where;
  bool whole = false;
  for (const auto& [name, bytes] : response_byte_views(outputs)) {
    if (bytes.find(secret_) != std::string::npos) {
      where = name;
      whole = true;
      break;
    }
    for (std::size_t i = random_from_; where.empty() && i + kLeakWindow <= secret_.size(); ++i)
      if (bytes.find(secret_.substr(i, kLeakWindow)) != std::string::npos) where = name;
  }
  status.reached = !where.empty();
  status.attempted = true;
  status.detail = status.reached ? what_ + ": the " + std::to_string(secret_.size()) +
                                       "-byte secret planted at " + path_ + " came back" +
                                       (whole ? "" : " in part (16 or more of its random bytes)") +
                                       " in output '" + where + "' of an inference response"
                                 : what_ + " not observed: the planted secret is in none of the " +
                                       std::to_string(outputs.size()) + " output(s) answered";
  status.evidence.push_back({"objective",
                             status.detail,
                             {{"path", path_},
                              {"secret_bytes", secret_.size()},
                              {"whole", whole},
                              {"output", where},
                              {"outputs", outputs.size()}}});
  return status;
}

json ResponseLeakObjective::describe() const {
  return {{"type", "secret_in_response"}, {"path", path_}, {"what", what_}};
}

namespace {

// Appends `value` as `width` little-endian bytes.
void append_le(std::string& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> response_byte_views(const json& outputs) {
  std::vector<std::pair<std::string, std::string>> views;
  if (!outputs.is_array()) return views;
  for (const json& output : outputs) {
    if (!output.is_object() || !output.contains("data") || !output["data"].is_array()) continue;
    const std::string name = output.value("name", "");
    const std::string type = output.value("datatype", "");
    const json& data = output["data"];
    std::string packed, per_value;
    bool bytewise = true;
    for (const json& v : data) {
      if (!v.is_number() && !v.is_boolean()) {
        bytewise = false;
        packed.clear();
        break;
      }
      const double x = v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
      if (bytewise && x == std::floor(x) && x >= -128 && x <= 255)
        per_value.push_back(static_cast<char>(static_cast<int>(x) & 0xff));
      else
        bytewise = false;
      if (type == "FP32") {
        const float f = static_cast<float>(x);
        std::uint32_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        append_le(packed, bits, 4);
      } else if (type == "FP64") {
        std::uint64_t bits;
        std::memcpy(&bits, &x, sizeof bits);
        append_le(packed, bits, 8);
      } else if (type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0 || type == "BOOL") {
        const int width = type == "INT16" ? 2 : type == "INT32" ? 4 : type == "INT64" ? 8 : 1;
        const std::uint64_t bits = v.is_number_unsigned() ? v.get<std::uint64_t>()
                                   : v.is_boolean()
                                       ? (v.get<bool>() ? 1u : 0u)
                                       : static_cast<std::uint64_t>(v.get<std::int64_t>());
        append_le(packed, bits, width);
      }
    }
    if (!packed.empty()) views.emplace_back(name, std::move(packed));
    if (bytewise && !per_value.empty()) views.emplace_back(name, std::move(per_value));
  }
  return views;
}

FileChangedObjective::FileChangedObjective(std::string path, std::string planted, std::string what)
    : path_(std::move(path)), planted_(std::move(planted)), what_(std::move(what)) {}

ObjectiveStatus FileChangedObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const auto content = surface.read_file(path_);
  status.reached = !content || *content != planted_;
  if (!content)
    status.detail = what_ + ": " + path_ + " is gone";
  else if (status.reached)
    status.detail = what_ + ": " + path_ + " holds " + std::to_string(content->size()) +
                    " byte(s) other than the " + std::to_string(planted_.size()) + " planted";
  else
    status.detail = what_ + " not observed: " + path_ + " is as planted";
  status.evidence.push_back(
      {"objective",
       status.detail,
       {{"path", path_}, {"planted_bytes", planted_.size()}, {"present", content.has_value()}}});
  return status;
}

json FileChangedObjective::describe() const {
  return {{"type", "file_changed"}, {"path", path_}, {"what", what_}};
}

BeaconObjective::BeaconObjective(std::string host, std::uint16_t port, std::string needle,
                                 std::string what)
    : host_(std::move(host)), needle_(std::move(needle)), what_(std::move(what)) {
  if (needle_.empty()) throw harness_error("a beacon objective needs the bytes it must carry");
  try {
    listener_ = std::make_unique<BeaconListener>(host_, port);
  } catch (const std::system_error& e) {
    throw environment_error("cannot listen on " + host_ + ":" + std::to_string(port) + " for " +
                            what_ + ": " + e.what());
  }
}

ObjectiveStatus BeaconObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  if (listener_->wait_for(needle_, milliseconds(0))) {
    status.reached = true;
    status.detail =
        what_ + ": the listener on port " + std::to_string(listener_->port()) + " received it";
  } else {
    status.detail = what_ + " not observed: " + std::to_string(listener_->connections().size()) +
                    " connection(s) at the listener on " + host_ + ":" +
                    std::to_string(listener_->port()) + ", none carrying it";
  }
  json evidence = listener_->to_json();
  evidence["needle"] = needle_;
  status.evidence.push_back({"objective", status.detail, evidence});
  return status;
}

namespace {
constexpr int kIpprotoUdpLite = 136;
constexpr std::size_t kReceivedMax = 1 << 16;

const char* protocol_text(ProtocolBeaconObjective::Protocol p) {
  switch (p) {
    case ProtocolBeaconObjective::Protocol::kUdpLite:
      return "udplite";
    case ProtocolBeaconObjective::Protocol::kSctp:
      return "sctp";
    case ProtocolBeaconObjective::Protocol::kIcmp:
      return "icmp";
  }
  return "?";
}
}  // namespace

ProtocolBeaconObjective::ProtocolBeaconObjective(Protocol protocol, std::string host,
                                                 std::string needle, std::string what)
    : protocol_(protocol),
      host_(std::move(host)),
      needle_(std::move(needle)),
      what_(std::move(what)) {
  const int type = protocol_ == Protocol::kUdpLite ? SOCK_DGRAM
                   : protocol_ == Protocol::kSctp  ? SOCK_STREAM
                                                   : SOCK_RAW;
  const int number = protocol_ == Protocol::kUdpLite ? kIpprotoUdpLite
                     : protocol_ == Protocol::kSctp  ? IPPROTO_SCTP
                                                     : IPPROTO_ICMP;
  listen_fd_.reset(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, number));
  if (!listen_fd_) {
    unavailable_ = std::string("the harness cannot open a ") + protocol_text(protocol_) +
                   " socket on this host: " + std::strerror(errno);
    return;
  }
  if (protocol_ == Protocol::kIcmp) return;  // a raw socket sees every ICMP packet
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host_.c_str(), &address.sin_addr) != 1)
    throw harness_error("listener address is not IPv4: " + host_);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (protocol_ == Protocol::kSctp && ::listen(listen_fd_.get(), 8) != 0) ||
      ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw environment_error(std::string("cannot listen on ") + protocol_text(protocol_) + " " +
                            host_ + ": " + std::strerror(errno));
  port_ = ntohs(address.sin_port);
}

ObjectiveStatus ProtocolBeaconObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  char buffer[4096];
  const auto take = [&](int fd) {
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) return;
      ++packets_;
      if (received_.size() < kReceivedMax) received_.append(buffer, static_cast<std::size_t>(n));
    }
  };
  if (listen_fd_) {
    if (protocol_ == Protocol::kSctp) {
      for (;;) {
        UniqueFd peer(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!peer) break;
        peers_.push_back(std::move(peer));
      }
      for (const UniqueFd& peer : peers_) take(peer.get());
    } else {
      take(listen_fd_.get());
    }
  }
  status.reached = received_.find(needle_) != std::string::npos;
  if (status.reached)
    status.detail = what_ + ": the harness's " + protocol_text(protocol_) + " listener received it";
  else if (!unavailable_.empty())
    status.detail = what_ + " cannot be observed: " + unavailable_;
  else
    status.detail = what_ + " not observed: " + std::to_string(packets_) + " " +
                    protocol_text(protocol_) + " message(s) at the listener, none carrying it";
  json evidence = describe();
  evidence["messages"] = packets_;
  if (!unavailable_.empty()) evidence["unavailable"] = unavailable_;
  status.evidence.push_back({"objective", status.detail, evidence});
  return status;
}

json ProtocolBeaconObjective::describe() const {
  json j = {{"type", "beacon"},
            {"protocol", protocol_text(protocol_)},
            {"host", host_},
            {"contains", needle_},
            {"what", what_}};
  if (port_) j["port"] = port_;
  return j;
}

std::vector<ExpectedOperation> ProtocolBeaconObjective::operations() const {
  switch (protocol_) {
    case Protocol::kUdpLite:
      return {{Operation::kSocket, "socket udp", "creates the UDP-Lite socket (class udp)"},
              {Operation::kSendmsg, "*:" + std::to_string(port_), "sends to the listener"}};
    case Protocol::kSctp:
      return {{Operation::kSocket, "socket other", "creates the SCTP socket (no class of its own)"},
              {Operation::kConnect, "*:" + std::to_string(port_), "connects to the listener"}};
    case Protocol::kIcmp:
      return {{Operation::kSocket, "socket icmp", "creates the ICMP socket"}};
  }
  return {};
}

json BeaconObjective::describe() const {
  return {{"type", "connect"},
          {"host", host_},
          {"port", listener_->port()},
          {"contains", needle_},
          {"what", what_}};
}

std::vector<ExpectedOperation> BeaconObjective::operations() const {
  // The sandbox may reach the listener through another address (QEMU's 10.0.2.2): the port
  // is what identifies it.
  return {{Operation::kSocket, "socket tcp", "creates the TCP socket it connects with"},
          {Operation::kConnect, "*:" + std::to_string(listener_->port()),
           "connects to the listener of " + what_}};
}

ShareObjective::ShareObjective() : pool_(std::make_unique<FakeStratumPool>(PoolOptions{})) {}

ObjectiveStatus ShareObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  status.reached = pool_->valid_share_count() > 0;
  status.detail = status.reached
                      ? "the pool verified " + std::to_string(pool_->valid_share_count()) +
                            " share(s) mined in the sandbox"
                      : "no valid share at the pool (" +
                            std::to_string(pool_->connections().size()) + " connection(s))";
  status.evidence.push_back({"objective", status.detail, pool_->to_json()});
  return status;
}

json ShareObjective::describe() const {
  return {{"type", "share_submitted"}, {"what", "a valid Stratum share reaches the harness pool"}};
}

ObjectiveStatus ExecObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const ExpectedOperation wanted{Operation::kExec, path_, ""};
  json seen = json::array();
  int killed = 0;
  std::string killed_by;
  for (const ExecutedProgram& program : surface.executed_programs()) {
    seen.push_back({{"path", program.path},
                    {"pid", program.pid},
                    {"killed_at_exec", program.killed_at_exec},
                    {"killed_by", program.killed_by}});
    if (!wanted.matches(Operation::kExec, program.path)) continue;
    if (program.killed_at_exec) {
      ++killed;
      killed_by = program.killed_by;
      continue;
    }
    if (!status.reached)
      status.detail =
          path_ + " ran (pid " + std::to_string(program.pid) + ", " + program.path + ")";
    status.reached = true;
  }
  if (!status.reached)
    status.detail =
        killed > 0 ? path_ + " was started " + std::to_string(killed) +
                         " time(s) but killed at the exec before it ran (" + killed_by + ")"
                   : path_ + " did not run (" + std::to_string(seen.size()) + " exec(s) observed)";
  status.evidence.push_back({"objective", status.detail, {{"executed", seen}}});
  return status;
}

json ExecObjective::describe() const {
  return {{"type", "exec"}, {"path", path_}};
}

std::vector<ExpectedOperation> ExecObjective::operations() const {
  return {{Operation::kExec, path_, "the declared program runs"}};
}

CanaryObjective::CanaryObjective(DumpRequest request, const AttackContext& context)
    : request_(std::move(request)), memdump_(context.bin_dir / "armorbench-memdump") {}

void CanaryObjective::prepare(const ModelArtifacts& model, const fs::path& run_dir) {
  if (request_.canary_hex.empty()) request_.canary_hex = model.canary_hex;
  if (request_.canary_hex.empty())
    throw input_error(
        "a canary_found objective on a model of your own declares its 'canary' "
        "(hex bytes in the weights)");
  run_dir_ = run_dir;
}

void CanaryObjective::while_serving(AttackSurface& surface) {
  detail_ = {{"method", request_.method}, {"from", request_.from}};
  if (request_.method == "core_dump") {
    // What a host administrator (or a compromised hypervisor) does: dump the guest's RAM.
    if (request_.from != "host")
      throw unsupported_error("core_dump is the hypervisor's; a " + request_.from +
                              " attacker cannot take it");
    const fs::path file = run_dir_ / "guest-memory.elf";
    const MemoryDumpInfo info = surface.dump_memory(file);
    const ScanResult scan = MemoryDumper().scan_file(file.string(), from_hex(request_.canary_hex));
    std::error_code ec;
    fs::remove(file, ec);
    ran_ = true;
    found_ = scan.found;
    // A miss means "not there" only when the dump covered the guest's RAM.
    scanned_ = !scan.found && !scan.failed && scan.bytes_scanned > 0 &&
               scan.bytes_scanned >= info.guest_bytes;
    if (scan.failed)
      failure_ = "the dump could not be scanned";
    else if (!found_ && !scanned_)
      failure_ = "the dump covered " + std::to_string(scan.bytes_scanned) +
                 " bytes, less than the " + std::to_string(info.guest_bytes) + " of guest RAM";
    who_ = "the hypervisor's memory dump";
    detail_["report"] = scan.to_json();
    detail_["core_dump"] = {{"bytes", info.bytes},
                            {"elapsed_ms", info.elapsed.count()},
                            {"format", info.format},
                            {"api", info.api}};
    return;
  }
  if (!fs::exists(memdump_))
    throw environment_error("the memory-dump tool " + memdump_.string() + " is not built");
  const ModelHolder holder = surface.model_holder();
  holder_ = holder;
  std::vector<std::string> argv{memdump_.string(),
                                "--pid",
                                std::to_string(holder.pid),
                                "--canary",
                                request_.canary_hex,
                                "--method",
                                request_.method,
                                "--json"};
  detail_["target"] = holder.description;
  detail_["pid"] = holder.pid;
  CommandResult result;
  if (request_.from == "host") {
    who_ = "a host process";
    result = run_command(argv, kHostDumpTimeout);
  } else {
    // The tool comes in through a read-only bind (the build dir may be where the sibling's
    // own /tmp hides it).
    who_ = "a sibling container";
    SiblingSpec sibling;
    sibling.binds.push_back({memdump_, kSiblingTool});
    sibling.capabilities = {"CAP_SYS_PTRACE"};
    sibling.argv = argv;
    sibling.argv[0] = kSiblingTool;
    result = surface.run_sibling(sibling);
  }
  ran_ = true;
  const auto report = json::parse(result.out, nullptr, false);
  if (!report.is_discarded()) detail_["report"] = report;
  detail_["exit"] = result.timed_out ? "timed out" : result.status.describe();
  if (!result.err.empty()) detail_["stderr"] = output_tail(result.err, 1000);
  judge(result, report.is_discarded() ? json() : report);
}

namespace {

// The operation a stage of the dumper performs (MemoryDumper's stage names).
Operation operation_of_stage(const std::string& stage, const std::string& method) {
  if (stage == "ptrace") return Operation::kPtrace;
  if (stage == "open_mem" || stage == "open_maps") return Operation::kProcMem;
  if (stage == "read")
    return method == "process_vm_readv" ? Operation::kVmRead
           : method == "ptrace"         ? Operation::kPtrace
                                        : Operation::kProcMem;
  return Operation::kOther;  // io_uring_setup: io_uring itself, not the memory it reads
}

}  // namespace

void CanaryObjective::judge(const CommandResult& result, const json& report) {
  status_ = result.status;
  found_ = report.is_object() && report.value("found", false);
  if (found_) return;
  if (result.timed_out) {
    failure_ = "the harness stopped the dumper at its time limit";
    return;
  }
  // EPERM/EACCES on an operation the method needs is a refusal of that very operation.
  if (report.is_object())
    for (const json& error : report.value("errors", json::array())) {
      const int number = error.value("errno", 0);
      if (number != EPERM && number != EACCES) continue;
      const Operation operation =
          operation_of_stage(error.value("stage", std::string()), request_.method);
      const std::string stage = error.value("stage", std::string());
      const std::string pid = std::to_string(holder_.pid);
      const std::string resource = stage == "open_maps"               ? "/proc/" + pid + "/maps"
                                   : operation == Operation::kProcMem ? "/proc/" + pid + "/mem"
                                                                      : "pid " + pid;
      denials_.push_back({"kernel (to the dumper: " + error.value("message", std::string()) + ")",
                          operation, resource,
                          "the kernel refused the dumper's " + error.value("stage", std::string()) +
                              " with " + (number == EPERM ? "EPERM" : "EACCES"),
                          true, error, ""});
    }
  if (result.status.signal == SIGKILL)
    // Who sent it is not in the exit status: the enforcer's own event must name the operation.
    denials_.push_back({"a SIGKILL (sender not recorded)", Operation::kOther, "",
                        "the dumper was killed by SIGKILL", true, nullptr, ""});
  if (!denials_.empty()) return;
  const std::uint64_t scanned = report.is_object() ? report.value("bytes_scanned", 0ull) : 0;
  if (report.is_object() && report.value("outcome", "") == "not_found" && scanned > 0) {
    // A miss means "not there" only when the dump read all the memory that holds the model.
    if (scanned >= holder_.memory_bytes) {
      scanned_ = true;
      return;
    }
    failure_ = "the dump read " + std::to_string(scanned) + " bytes, less than the " +
               std::to_string(holder_.memory_bytes) + " that hold the model";
    return;
  }
  failure_ =
      report.is_object() && !report.value("errors", json::array()).empty()
          ? "the dump failed: " + report["errors"][0].value("message", std::string("an error"))
          : "the dumper " + result.status.describe() + " without a report";
}

ObjectiveStatus CanaryObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  if (!ran_) {
    status.detail = "the dump did not run (the model server was never ready to be read)";
    return status;
  }
  status.reached = found_;
  status.attempted = found_ || scanned_;
  status.denials = denials_;
  const std::string how = who_ + " (" + request_.method + ")";
  if (found_)
    status.detail = "the canary was found by " + how;
  else if (scanned_)
    status.detail = "canary not found by " + how + ": the memory was read and it is not there";
  else if (!denials_.empty())
    status.detail = "canary not found by " + how + ": " + denials_.front().detail;
  else
    status.detail = "canary not found by " + how + ": " + failure_;
  status.evidence.push_back({"objective", status.detail, detail_});
  return status;
}

json CanaryObjective::describe() const {
  return {{"type", "canary_found"},
          {"method", request_.method},
          {"from", request_.from},
          {"what", "the canary's bytes are found in the model server's memory"}};
}

std::vector<ExpectedOperation> CanaryObjective::operations() const {
  std::vector<ExpectedOperation> ops = memory_operations_for(request_.method);
  if (holder_.pid == 0) return ops;
  // Once the dump ran: the operations on this server's memory, not on any process's.
  const std::string pid = std::to_string(holder_.pid);
  for (ExpectedOperation& op : ops)
    op.resource = op.operation == Operation::kProcMem
                      ? (op.resource.empty() ? "/proc/" + pid + "/*" : "/proc/" + pid + "/maps")
                      : "pid " + pid;
  return ops;
}

std::vector<ExpectedOperation> memory_operations_for(const std::string& method) {
  // Every method first reads /proc/<pid>/maps to find the regions it reads.
  const ExpectedOperation maps{Operation::kProcMem, "/proc/*/maps",
                               "reads the server's memory map to find its regions"};
  if (method == "process_vm_readv")
    return {{Operation::kVmRead, "", "reads the server's memory with process_vm_readv"}, maps};
  if (method == "ptrace")
    return {{Operation::kPtrace, "", "attaches to the server with ptrace"}, maps};
  if (method == "proc_mem" || method == "io_uring")
    return {{Operation::kProcMem, "", "opens the server's /proc/<pid>/mem"}};
  return {};  // core_dump: the hypervisor reads guest RAM; no guest enforcer sees it
}

ResourceObjective::ResourceObjective(Resource resource, std::uint64_t limit, std::string marker)
    : resource_(resource), limit_(limit), marker_(std::move(marker)) {}

ObjectiveStatus ResourceObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const auto content = surface.read_file(marker_);
  const json marker = content ? json::parse(*content, nullptr, false) : json();
  if (marker.is_discarded() || marker.is_null()) {
    status.detail = "no progress marker from the payload";
    return status;
  }
  if (resource_ == Resource::kPids) {
    const std::int64_t forked = marker.value("forked", 0);
    status.reached = forked >= static_cast<std::int64_t>(limit_);
    status.detail =
        "forked " + std::to_string(forked) + " processes; the limit is " + std::to_string(limit_);
  } else {
    const std::uint64_t peak = marker.value("peak_bytes", 0ull);
    status.reached = peak > limit_;
    status.detail = "held " + std::to_string(peak >> 20) + " MiB; the limit is " +
                    std::to_string(limit_ >> 20) + " MiB";
  }
  status.evidence.push_back({"objective", status.detail, marker});
  return status;
}

json ResourceObjective::describe() const {
  return resource_ == Resource::kPids
             ? json{{"type", "resource_exceeded"}, {"resource", "pids"}, {"limit", limit_}}
             : json{{"type", "resource_exceeded"}, {"resource", "memory"}, {"limit_bytes", limit_}};
}

}  // namespace armorbench::attacks
