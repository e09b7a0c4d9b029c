// Host side of the micro-VM: boot, agent conversation, teardown.
#include "armorbench/vms/GuestVm.h"

#include <poll.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "armorbench/base/Base64.h"
#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/base/XmlText.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

UniqueFd connect_unix(const fs::path& path) {
  sockaddr_un address{};
  if (path.string().size() >= sizeof address.sun_path)
    throw input_error("socket path too long for AF_UNIX: " + path.string());
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.string().size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // libvirt binds the channel sockets itself and hands them to QEMU before virDomainCreateXML
  // returns, so one connect is enough: no retry loop.
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw environment_error("cannot connect to " + path.string() + ": " + strerror(errno));
  return fd;
}

bool event_in(const json& message, std::initializer_list<std::string_view> events) {
  const std::string event = message.value("event", "");
  return std::find(events.begin(), events.end(), event) != events.end();
}

}  // namespace

std::string guest_cmdline(const fs::path& agent, std::string_view extra,
                          const std::vector<std::string>& agent_args) {
  auto check = [](const std::string& word) {
    if (word.empty() || word.find_first_of(" \t\n\"'") != std::string::npos)
      throw input_error("'" + word + "' cannot go on the kernel cmdline (empty, blanks or quotes)");
  };
  check(agent.string());
  std::string cmdline(kGuestBaseCmdline);
  cmdline += " armorbench.agent=" + agent.string();
  cmdline += " armorbench.ports=" + std::string(kAgentChannel) + "," + std::string(kHttpChannel);
  if (!extra.empty()) cmdline += " " + std::string(extra);
  if (!agent_args.empty()) {
    cmdline += " --";
    for (const std::string& arg : agent_args) {
      check(arg);
      cmdline += " " + arg;
    }
  }
  return cmdline;
}

DomainSpec guest_domain_spec(const GuestVmConfig& config) {
  DomainSpec spec;
  spec.name = config.restore ? config.restore->name : config.name;
  spec.memory_mib = config.memory_mib;
  spec.vcpus = config.vcpus;
  spec.accel = config.accel;
  spec.launch_security = config.launch_security;
  spec.kernel = config.image.kernel;
  spec.initrd = config.image.initrd;
  if (config.restore) {
    spec.uuid = config.restore->uuid;
    spec.root_image = config.restore->root_image;
    spec.cmdline = config.restore->cmdline;
  } else if (config.root_image) {
    spec.uuid = config.uuid;
    spec.root_image = config.root_image;
    std::string extra = "armorbench.root=/dev/vda";
    if (!config.extra_cmdline.empty()) extra += " " + config.extra_cmdline;
    spec.cmdline = guest_cmdline(config.agent, extra, config.agent_args);
  } else {
    spec.cmdline = guest_cmdline(config.agent, config.extra_cmdline, config.agent_args);
  }
  spec.run_dir = fs::absolute(config.run_dir);
  spec.network = config.network;
  return spec;  // scratch: set by GuestVm, which makes the directory
}

GuestVm::GuestVm(GuestVmConfig config) : config_(std::move(config)), connection_(config_.uri) {
  if (config_.restore) config_.name = config_.restore->name;
  const bool from_image = config_.root_image || config_.restore;  // the agent is in the image
  if (!config_.agent.is_absolute() || (!from_image && ::access(config_.agent.c_str(), X_OK) != 0))
    throw environment_error("guest agent " + config_.agent.string() +
                            " is not an executable absolute path");
  std::error_code ec;
  fs::create_directories(config_.run_dir, ec);
  if (ec)
    throw environment_error("cannot create " + config_.run_dir.string() + ": " + ec.message());
  for (const char* stale : {"agent.sock", "http.sock", "console.log"})
    fs::remove(config_.run_dir / stale, ec);

  spec_ = guest_domain_spec(config_);
  if (config_.scratch) {
    // accessmode='mapped' (see DomainSpec.cpp): QEMU, as libvirt-qemu, must own the directory.
    const fs::path scratch = spec_.run_dir / "scratch";
    fs::create_directories(scratch, ec);
    const passwd* qemu_user = ::getpwnam("libvirt-qemu");
    if (!qemu_user || ::chown(scratch.c_str(), qemu_user->pw_uid, qemu_user->pw_gid) != 0)
      throw environment_error("cannot hand " + scratch.string() + " to user libvirt-qemu");
    spec_.scratch = scratch;
  }
  const std::string xml = domain_xml(spec_);
  std::ofstream(config_.run_dir / "domain.xml") << xml;

  const auto start = Clock::now();
  if (config_.restore) {
    restore_and_resume(start);
    return;
  }
  domain_.emplace(Domain::create(connection_, xml, Domain::CreateOptions{.autodestroy = true}));
  // Connect at once: the agent's hello (and the relay's first write) wait for a host client.
  agent_ = connect_unix(spec_.agent_socket());
  http_ = connect_unix(spec_.http_socket());
  const auto deadline = start + config_.boot_timeout;
  std::optional<json> first;
  try {
    first = next_message(deadline);
  } catch (const Error& e) {
    fail(std::string("the guest agent never said hello: ") + e.what());
  }
  if (!first)
    fail("no hello from the guest agent within " + std::to_string(config_.boot_timeout.count()) +
         " ms");
  if (first->value("event", "") != "hello")
    fail("the guest agent's first message is not hello: " + first->dump());
  hello_ = *first;
  boot_latency_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

void GuestVm::restore_and_resume(Clock::time_point start) {
  connection_.destroy_domain(config_.name);  // a leftover: the caller holds the lease
  // The saved XML as it is (libvirt checks that a restore's devices are the saved ones, MAC
  // addresses included), but with this guest's sockets, console log and root image.
  std::string xml = Domain::saved_xml(connection_, config_.restore->memory_image);
  const auto replace_all = [&xml](const std::string& from, const std::string& to) {
    if (from.empty() || from == to) return;
    for (std::size_t at = xml.find(from); at != std::string::npos;
         at = xml.find(from, at + to.size()))
      xml.replace(at, from.size(), to);
  };
  replace_all(xml_escape(config_.restore->run_dir.string()) + "/",
              xml_escape(spec_.run_dir.string()) + "/");
  std::ofstream(config_.run_dir / "domain.xml") << xml;
  domain_.emplace(Domain::restore(connection_, config_.restore->memory_image, xml, config_.name));
  agent_ = connect_unix(spec_.agent_socket());
  http_ = connect_unix(spec_.http_socket());
  // The agent was saved inside its poll loop: it answers the resume op as soon as it sees it.
  ResumeRequest resume;
  resume.unix_time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const std::vector<std::uint8_t> entropy = from_hex(random_hex(64));
  resume.entropy.assign(entropy.begin(), entropy.end());
  resume.enforcer = config_.resume_enforcer.string();
  const auto resume_start = Clock::now();
  json answer;
  try {
    answer = request(encode_resume(resume), {"resumed"}, config_.boot_timeout);
  } catch (const Error& e) {
    fail(std::string("the restored guest's agent did not resume: ") + e.what());
  }
  if (answer.value("event", "") != "resumed")
    fail("the restored guest's agent could not resume: " + answer.dump());
  hello_ = answer;
  resume_latency_ =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - resume_start);
  boot_latency_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

GuestVm::~GuestVm() {
  teardown();
}

json GuestVm::prewarm(const PrewarmRequest& request, std::chrono::milliseconds timeout) {
  const json answer = this->request(encode_prewarm(request), {"prewarmed"}, timeout);
  if (answer.value("event", "") != "prewarmed")
    throw environment_error("the warm workload did not start: " + answer.value("error", "") + "\n" +
                            output_tail(answer.value("stderr", ""), 3000));
  return answer;
}

void GuestVm::save(const fs::path& path) {
  domain_->save(path);
  stopped_ = true;  // nothing to stop: the domain is gone
}

void GuestVm::fail(const std::string& what) const {
  throw environment_error(what + "\n--- console log tail (" +
                          (config_.run_dir / "console.log").string() + ") ---\n" +
                          output_tail(console_log(), 3000));
}

std::optional<json> GuestVm::next_message(Clock::time_point deadline) {
  bool timed_out = false;
  const auto line = read_line(agent_.get(), agent_buffer_, left_until(deadline), &timed_out);
  if (!line) {
    if (timed_out) return std::nullopt;
    throw environment_error("the guest agent's connection closed (guest powered off or crashed)");
  }
  json message = parse_line(*line);
  transcript_.push_back(message);
  return message;
}

void GuestVm::send(const json& op) {
  const std::string line = to_line(op) + "\n";
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::send(agent_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw environment_error(std::string("sending to the guest agent: ") + strerror(errno));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

json GuestVm::request(json op, std::initializer_list<std::string_view> final_events,
                      std::chrono::milliseconds timeout) {
  const std::uint64_t id = next_id_++;
  op["id"] = id;
  const std::string name = op.value("op", "");
  send(op);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto message = next_message(deadline);
    if (!message)
      throw harness_error("no reply to the agent op '" + name + "' within " +
                          std::to_string(timeout.count()) + " ms");
    if (message_id(*message) == id &&
        (event_in(*message, final_events) || message->value("event", "") == "error"))
      return *message;
    kept_.push_back(std::move(*message));
  }
}

std::optional<json> GuestVm::wait_event(std::string_view event, std::chrono::milliseconds timeout) {
  const auto kept = std::find_if(kept_.begin(), kept_.end(),
                                 [&](const json& m) { return m.value("event", "") == event; });
  if (kept != kept_.end()) {
    json message = std::move(*kept);
    kept_.erase(kept);
    return message;
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto message = next_message(deadline);
    if (!message) return std::nullopt;
    if (message->value("event", "") == event) return message;
    kept_.push_back(std::move(*message));
  }
}

StartReply GuestVm::start(const StartRequest& request, std::chrono::milliseconds timeout) {
  const auto started_at = Clock::now();
  StartReply reply;
  const json answer = this->request(encode_start(request), {"started"}, timeout);
  reply.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at);
  reply.ok = answer.value("event", "") == "started";
  (reply.ok ? reply.started : reply.error) = answer;
  // The enforcer's ready line came with the same id before the final reply.
  const auto ready = std::find_if(kept_.begin(), kept_.end(), [&](const json& m) {
    return m.value("event", "") == "enforcer_ready" && message_id(m) == message_id(answer);
  });
  if (ready != kept_.end()) {
    reply.enforcer_ready = std::move(*ready);
    kept_.erase(ready);
  }
  return reply;
}

std::optional<json> GuestVm::wait_workload_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // Whichever comes first: the workload's line or its exit (then the exit stays kept as well).
  for (;;) {
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->value("event", "") == "workload") {
        json message = std::move(*it);
        kept_.erase(it);
        return message;
      }
      if (it->value("event", "") == "exit") return *it;
    }
    auto message = next_message(deadline);
    if (!message) return std::nullopt;
    kept_.push_back(std::move(*message));
  }
}

std::optional<std::string> GuestVm::read_file(const std::string& guest_path,
                                              std::chrono::milliseconds timeout) {
  const json answer = request({{"op", "read_file"}, {"path", guest_path}}, {"file"}, timeout);
  if (answer.value("event", "") == "error")
    throw harness_error("read_file " + guest_path + ": " + answer.value("error", "failed"));
  if (!answer.value("exists", false)) return std::nullopt;
  if (!answer.contains("content_b64"))
    throw harness_error("read_file " + guest_path + ": " + answer.value("error", "unreadable"));
  auto content = base64_decode(answer.value("content_b64", ""));
  if (!content) throw harness_error("read_file " + guest_path + ": the agent sent invalid base64");
  return content;
}

EnforcerEvents GuestVm::enforcer_events(std::chrono::milliseconds timeout) {
  const json answer = request({{"op", "events"}}, {"enforcer_events"}, timeout);
  if (answer.value("event", "") == "error")
    throw harness_error("events: " + answer.value("error", "failed"));
  EnforcerEvents result;
  for (const json& event : answer.value("events", json::array()))
    result.report.events.push_back(enforcer::EventRecord::from_json(event));
  result.report.dropped = answer.value("dropped", std::uint64_t{0});
  result.enforcer_running = answer.value("enforcer_running", false);
  return result;
}

StopReply GuestVm::stop(std::chrono::milliseconds timeout) {
  StopReply reply;
  if (stopped_) return reply;
  stopped_ = true;
  const auto deadline = Clock::now() + timeout;
  const json answer = request({{"op", "stop"}}, {"stopped"}, timeout);
  const auto stopped_at = Clock::now();
  reply.workload_exit = answer.value("workload_exit", json(nullptr));
  reply.enforcer_exit = answer.value("enforcer_exit", json(nullptr));
  reply.stderr_tail = answer.value("stderr_tail", "");
  if (answer.contains("cgroup_stats") && answer["cgroup_stats"].is_object())
    reply.cgroup_stats = CgroupStats::from_json(answer["cgroup_stats"]);
  // The agent powers off after its reply; QEMU then exits and closes the channel socket.
  for (;;) {
    std::optional<json> message;
    try {
      message = next_message(deadline);
    } catch (const Error&) {
      reply.powered_off = true;  // EOF: QEMU is gone
      break;
    }
    if (!message) break;  // deadline: destroy below
    kept_.push_back(std::move(*message));
  }
  reply.poweroff = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped_at);
  // virDomainDestroy when it did not power off; otherwise it only confirms libvirt's cleanup
  // (a transient domain whose QEMU exited may be listed until libvirt has processed the exit).
  domain_->destroy();
  return reply;
}

CoreDump GuestVm::core_dump_memory(const fs::path& path, bool live) {
  return domain_->core_dump_memory(path, live);
}

bool GuestVm::workload_exited() const {
  return std::any_of(kept_.begin(), kept_.end(),
                     [](const json& m) { return m.value("event", "") == "exit"; });
}

std::string GuestVm::console_log() const {
  return read_whole_file(config_.run_dir / "console.log");
}

void GuestVm::teardown() noexcept {
  InterruptShield shield;
  if (!stopped_ && domain_ && agent_) {
    try {
      stop(std::chrono::seconds(20));
    } catch (const std::exception& e) {
      std::cerr << "armorbench: stopping guest " << config_.name << ": " << e.what()
                << " (destroying it)\n";
    }
  }
  agent_.reset();
  http_.reset();
  domain_.reset();  // virDomainDestroy when still running
}

}  // namespace armorbench::vms
