// The guest agent's event loop and op handlers.
#include "GuestAgent.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "HostRoot.h"
#include "armorbench/base/Base64.h"
#include "armorbench/base/CgroupStats.h"
#include "armorbench/base/Error.h"

namespace armorbench::vms::agent {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kStderrTail = 64u << 10;
constexpr std::size_t kMaxEvents = 100000;
constexpr std::uint64_t kMaxReadFile = 16u << 20;

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

double uptime_s() {
  std::ifstream in("/proc/uptime");
  double up = 0;
  in >> up;
  return up;
}

void log(const std::string& message) {
  std::cerr << "armorbench-guest-agent[" << uptime_s() << "]: " << message << std::endl;
}

json status_json(const std::optional<ExitStatus>& status) {
  if (!status) return nullptr;
  return {{"code", status->signal ? json(nullptr) : json(status->code)},
          {"signal", status->signal},
          {"text", status->describe()}};
}

void append_tail(std::string& tail, std::string_view bytes) {
  tail.append(bytes);
  if (tail.size() > kStderrTail) tail.erase(0, tail.size() - kStderrTail);
}

void set_nonblocking(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

std::string default_enforcer_path() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return (ec ? fs::path("/usr/local/bin") : self.parent_path()) / "armorbench-enforcer";
}

}  // namespace

GuestAgent::GuestAgent(AgentOptions options)
    : options_(std::move(options)),
      agent_port_(options_.agent_port),
      http_port_(options_.http_port),
      relay_(http_port_) {
  if (options_.enforcer.empty()) options_.enforcer = default_enforcer_path();
  // Children are reaped from the loop: SIGCHLD becomes a readable fd.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  sigchld_.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigchld_) throw environment_error(std::string("signalfd: ") + strerror(errno));
  std::error_code ec;
  fs::create_directories(options_.state_dir, ec);
}

GuestAgent::~GuestAgent() = default;

void GuestAgent::say_hello() {
  utsname names{};
  ::uname(&names);
  const json hello = {{"event", "hello"},
                      {"protocol", kAgentProtocolVersion},
                      {"uptime_s", uptime_s()},
                      {"kernel", names.release},
                      {"lsm", read_small_file("/sys/kernel/security/lsm")},
                      {"btf", fs::exists("/sys/kernel/btf/vmlinux")},
                      {"pid", ::getpid()}};
  // Blocks until the host is connected to agent.sock: hello is the boot-complete signal.
  agent_port_.write_blocking(to_line(hello) + "\n");
  log("hello sent");
}

void GuestAgent::run() {
  say_hello();
  agent_port_.make_nonblocking();
  http_port_.make_nonblocking();
  std::vector<pollfd> entries;
  while (!stopped_) {
    entries.clear();
    entries.push_back(agent_port_.poll_entry(true));
    entries.push_back({sigchld_.get(), POLLIN, 0});
    relay_.add_poll_entries(entries);
    if (enforcer_) add_child_entries(*enforcer_, entries);
    if (workload_) add_child_entries(*workload_, entries);

    // The nearest deadline: a port to look at again, or the enforcer's ready timeout.
    std::optional<Clock::time_point> wake;
    for (auto at : {agent_port_.recheck_at(), http_port_.recheck_at()})
      if (at && (!wake || *at < *wake)) wake = at;
    if (pending_start_ && (!wake || pending_start_->deadline < *wake))
      wake = pending_start_->deadline;
    if (pending_prewarm_id_ && (!wake || prewarm_deadline_ < *wake)) wake = prewarm_deadline_;
    int timeout_ms = -1;
    if (wake) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*wake - Clock::now());
      timeout_ms = static_cast<int>(std::max<long>(0, left.count() + 1));
    }
    const int rc = ::poll(entries.data(), entries.size(), timeout_ms);
    if (rc < 0 && errno != EINTR) throw environment_error(std::string("poll: ") + strerror(errno));

    if (entries[1].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(sigchld_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
    }
    // Output first, exits after: a workload's last line arrives before its exit event.
    if (enforcer_) handle_child(*enforcer_, entries, true);
    if (workload_) handle_child(*workload_, entries, false);
    if (entries[1].revents & POLLIN) reap();
    relay_.handle(entries);
    if (http_port_.recheck_at() && Clock::now() >= *http_port_.recheck_at()) relay_.recheck();

    if (entries[0].revents & POLLOUT) agent_port_.flush_some();
    const bool agent_due = agent_port_.recheck_at() && Clock::now() >= *agent_port_.recheck_at();
    if (entries[0].revents & (POLLIN | POLLHUP) || agent_due) {
      if (auto bytes = agent_port_.read_some()) {
        agent_lines_.append(*bytes);
        std::string line;
        bool cut = false;
        while (!stopped_ && agent_lines_.next(line, &cut)) {
          if (cut) {
            send({{"event", "error"}, {"error", "request line longer than 1 MiB"}});
            continue;
          }
          if (!line.empty()) handle_line(line);
        }
      }
    }
    if (pending_start_ && Clock::now() >= pending_start_->deadline) {
      fail_start("enforcer", "no ready line from the enforcer within " +
                                 std::to_string(pending_start_->request.enforcer.ready_timeout_s) +
                                 " s");
    }
    if (pending_prewarm_id_ && Clock::now() >= prewarm_deadline_)
      fail_prewarm("no warm line from the workload within " +
                   std::to_string(warm_->ready_timeout_s) + " s");
  }
}

void GuestAgent::send(json message) {
  agent_port_.queue(to_line(message) + "\n");
  agent_port_.flush_some();
}

void GuestAgent::reply(const json& request_id, json message) {
  if (!request_id.is_null()) message["id"] = request_id;
  send(std::move(message));
}

void GuestAgent::handle_line(const std::string& line) {
  json op;
  try {
    op = parse_line(line);
  } catch (const Error& e) {
    send({{"event", "error"}, {"error", e.what()}});
    return;
  }
  const json id = op.value("id", json(nullptr));
  // A malformed op must cost the host an error reply, never the guest (PID 1 must not die).
  const auto op_field = op.find("op");
  const std::string name =
      op_field != op.end() && op_field->is_string() ? op_field->get<std::string>() : "";
  try {
    if (name == "start")
      handle_start(op, id);
    else if (name == "read_file")
      handle_read_file(op, id);
    else if (name == "events")
      handle_events(op, id);
    else if (name == "stop")
      handle_stop(op, id);
    else if (name == "prewarm")
      handle_prewarm(op, id);
    else if (name == "resume")
      handle_resume(op, id);
    else
      reply(id, {{"event", "error"}, {"op", name}, {"error", "unknown op '" + name + "'"}});
  } catch (const std::exception& e) {
    // Errors are per op: the agent keeps serving.
    reply(id, {{"event", "error"}, {"op", name}, {"error", e.what()}});
  }
}

// ---------------------------------------------------------------------------------------------
// start

void GuestAgent::handle_start(const json& op, const json& id) {
  const bool warm_waiting = warm_ && !warm_started_;
  if (pending_start_ || (workload_ && !warm_waiting))
    throw input_error("a workload was already started");
  StartRequest request = decode_start(op);
  if (warm_waiting) check_warm_match(request.workload);
  prepare_cgroup(request.workload.cgroup);
  apply_limits(request.workload.limits);
  for (const PlantedFile& file : request.workload.planted) plant(file);
  relay_.set_backend(request.workload.http_socket);
  const auto timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(request.enforcer.ready_timeout_s * 1000));
  const bool with_enforcer = request.enforcer.wanted();
  pending_start_ = PendingStart{std::move(request), id, Clock::now() + timeout};
  if (!with_enforcer) {
    start_workload();
    return;
  }
  try {
    start_enforcer(pending_start_->request.enforcer, cgroup_dir_);
  } catch (const Error& e) {
    fail_start("enforcer", e.what());
  }
}

void GuestAgent::prepare_cgroup(const std::string& name) {
  // Delegate the controllers whose statistics the stop reply reports (memory.peak, pids.events,
  // cpu.stat), limits or not. Best effort: a host whose v1 hierarchy holds them (the agent's own
  // tests) just reports zeros; apply_limits() fails loudly when a limit needs one.
  for (const char* controller : {"+cpu", "+memory", "+pids"})
    std::ofstream(options_.cgroup_root + "/cgroup.subtree_control") << controller;
  cgroup_dir_ = options_.cgroup_root + "/" + name;
  if (::mkdir(cgroup_dir_.c_str(), 0755) != 0 && errno != EEXIST)
    throw environment_error("cannot create cgroup " + cgroup_dir_ + ": " + strerror(errno));
  cgroup_fd_.reset(::open(cgroup_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd_)
    throw environment_error("cannot open cgroup " + cgroup_dir_ + ": " + strerror(errno));
}

void GuestAgent::apply_limits(const WorkloadLimits& limits) {
  if (!limits.any()) return;
  auto write = [](const std::string& path, const std::string& value) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
      throw environment_error("cannot write '" + value + "' to " + path + ": " + strerror(errno));
  };
  // A controller's files appear in the workload's cgroup once its parent delegates it.
  const std::string delegate = options_.cgroup_root + "/cgroup.subtree_control";
  if (limits.cpus) {
    write(delegate, "+cpu");
    const auto quota = static_cast<long long>(*limits.cpus * 100000);
    write(cgroup_dir_ + "/cpu.max", std::to_string(quota) + " 100000");
  }
  if (limits.memory_bytes) {
    write(delegate, "+memory");
    write(cgroup_dir_ + "/memory.max", std::to_string(*limits.memory_bytes));
  }
  if (limits.pids) {
    write(delegate, "+pids");
    write(cgroup_dir_ + "/pids.max", std::to_string(*limits.pids));
  }
}

json GuestAgent::cgroup_stats() const {
  if (cgroup_dir_.empty()) return nullptr;
  return CgroupPaths::of_unified(cgroup_dir_).read_stats().to_json();
}

void GuestAgent::plant(const PlantedFile& file) {
  std::error_code ec;
  fs::create_directories(fs::path(file.path).parent_path(), ec);
  if (ec)
    throw environment_error("cannot create the directory of " + file.path + ": " + ec.message());
  UniqueFd fd(
      ::open(file.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw environment_error("cannot write " + file.path + ": " + strerror(errno));
  std::string_view rest = file.content;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw environment_error("writing " + file.path + ": " + strerror(errno));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ::fchmod(fd.get(), file.mode);
}

void GuestAgent::start_enforcer(const EnforcerRequest& request, const std::string& cgroup_dir) {
  std::vector<std::string> argv = {options_.enforcer};
  std::vector<std::string> policies = request.policies;
  if (policies.empty()) {
    // Observation only (watch_exec with mode off): the daemon wants a policy, give it an empty one.
    const std::string empty = options_.state_dir + "/watch-only.toml";
    std::ofstream(empty) << "[policy]\nname = \"watch-only\"\n";
    policies.push_back(empty);
  }
  for (const std::string& policy : policies) argv.insert(argv.end(), {"--policy", policy});
  argv.insert(argv.end(), {"--cgroup", cgroup_dir, "--backend", to_string(request.backend),
                           "--mode", request.mode == EnforcerMode::kBlock ? "block" : "audit",
                           "--default-posture", to_string(request.default_posture)});
  if (request.watch_exec) argv.push_back("--watch-exec");
  // The daemon stays in the root cgroup: it must not be subject to the rules it loads.
  auto process = std::make_unique<ChildProcess>(ChildSpec{argv, workload_environment({}), -1});
  enforcer_ = std::make_unique<Managed>();
  enforcer_->process = std::move(process);
  set_nonblocking(enforcer_->process->stdout_fd());
  set_nonblocking(enforcer_->process->stderr_fd());
  log("enforcer started: pid " + std::to_string(enforcer_->process->pid()));
}

void GuestAgent::start_workload() {
  PendingStart start = std::move(*pending_start_);
  pending_start_.reset();
  const WorkloadRequest& w = start.request.workload;
  if (warm_ && !warm_started_) {
    // The warm interpreter reads the argv it is to run as one JSON line, then loads the model.
    warm_started_ = true;
    const std::string line = to_line(json(w.argv)) + "\n";
    const int in = workload_->process->stdin_fd();
    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(in, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        reply(start.id, {{"event", "error"},
                         {"op", "start"},
                         {"stage", "workload"},
                         {"error", std::string("handing the argv to the warm workload: ") +
                                       strerror(errno)}});
        return;
      }
      done += static_cast<std::size_t>(n);
    }
    workload_->process->close_stdin();
    reply_started(start.id);
    return;
  }
  try {
    auto process = std::make_unique<ChildProcess>(
        ChildSpec{w.argv, workload_environment(w.env), cgroup_fd_.get(), !w.unconfined});
    workload_ = std::make_unique<Managed>();
    workload_->process = std::move(process);
  } catch (const Error& e) {
    reply(start.id,
          {{"event", "error"}, {"op", "start"}, {"stage", "workload"}, {"error", e.what()}});
    return;
  }
  set_nonblocking(workload_->process->stdout_fd());
  set_nonblocking(workload_->process->stderr_fd());
  reply_started(start.id);
}

void GuestAgent::reply_started(const json& id) {
  struct stat st {};
  ::fstat(cgroup_fd_.get(), &st);
  log("workload started: pid " + std::to_string(workload_->process->pid()));
  reply(id, {{"event", "started"},
             {"pid", workload_->process->pid()},
             {"cgroup", cgroup_dir_},
             {"cgroup_id", static_cast<std::uint64_t>(st.st_ino)},
             {"enforcer", enforcer_ready_}});
}

void GuestAgent::fail_start(const std::string& stage, const std::string& error) {
  json message = {{"event", "error"}, {"op", "start"}, {"stage", stage}, {"error", error}};
  if (enforcer_) {
    const auto status = stop_child(enforcer_.get(), std::chrono::milliseconds(2000));
    message["enforcer_exit"] = status_json(status);
    message["stderr"] = enforcer_->stderr_tail;
    enforcer_.reset();
  }
  log("start failed (" + stage + "): " + error);
  const json id = pending_start_ ? pending_start_->id : json(nullptr);
  pending_start_.reset();
  reply(id, std::move(message));
}

std::vector<std::string> GuestAgent::workload_environment(
    const std::vector<std::string>& extra) const {
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
      "LANG=C.UTF-8"};
  for (const std::string& entry : extra) {
    const std::string name = entry.substr(0, entry.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(name); });
    env.push_back(entry);
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// child output and exits

void GuestAgent::add_child_entries(Managed& child, std::vector<pollfd>& entries) {
  child.stdout_index = child.stderr_index = SIZE_MAX;
  if (child.process->stdout_fd() >= 0) {
    child.stdout_index = entries.size();
    entries.push_back({child.process->stdout_fd(), POLLIN, 0});
  }
  if (child.process->stderr_fd() >= 0) {
    child.stderr_index = entries.size();
    entries.push_back({child.process->stderr_fd(), POLLIN, 0});
  }
}

void GuestAgent::handle_child(Managed& child, const std::vector<pollfd>& entries,
                              bool is_enforcer) {
  if (child.stdout_index < entries.size() && entries[child.stdout_index].revents)
    read_child(child, true, is_enforcer, false);
  if (child.stderr_index < entries.size() && entries[child.stderr_index].revents)
    read_child(child, false, is_enforcer, false);
}

void GuestAgent::read_child(Managed& child, bool from_stdout, bool is_enforcer, bool all) {
  const int fd = from_stdout ? child.process->stdout_fd() : child.process->stderr_fd();
  if (fd < 0) return;
  char buffer[65536];
  do {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      if (from_stdout) {
        const std::string rest = child.lines.take_rest();
        if (!rest.empty()) is_enforcer ? on_enforcer_line(rest) : on_workload_line(rest);
        child.process->close_stdout();
      } else {
        child.process->close_stderr();
      }
      return;
    }
    const std::string_view bytes(buffer, static_cast<std::size_t>(n));
    if (!from_stdout) {
      append_tail(child.stderr_tail, bytes);
      continue;
    }
    child.lines.append(bytes);
    std::string line;
    while (child.lines.next(line)) is_enforcer ? on_enforcer_line(line) : on_workload_line(line);
  } while (all);
}

void GuestAgent::on_enforcer_line(const std::string& line) {
  json message = json::parse(line, nullptr, false);
  if (message.is_discarded() || !message.is_object()) {
    log("enforcer: " + line);
    return;
  }
  if (message.value("event", "") == "ready") {
    enforcer_ready_ = message;
    if (!pending_start_) return;
    json forwarded = message;
    forwarded["event"] = "enforcer_ready";
    reply(pending_start_->id, std::move(forwarded));
    start_workload();
    return;
  }
  if (message.contains("event")) return;  // "reloaded" and other daemon notices
  if (message.value("kind", "") == "dropped") {
    enforcer_dropped_ += message.value("count", std::uint64_t{0});
    return;
  }
  if (enforcer_events_.size() < kMaxEvents)
    enforcer_events_.push_back(std::move(message));
  else
    ++agent_dropped_;
}

void GuestAgent::on_workload_line(const std::string& line) {
  json message = json::parse(line, nullptr, false);
  if (pending_prewarm_id_) {
    if (message.is_discarded() || !message.is_object() || message.value("event", "") != "warm") {
      fail_prewarm("the warm workload's first line is not {\"event\":\"warm\"}: " +
                   line.substr(0, 300));
      return;
    }
    const json id = *pending_prewarm_id_;
    pending_prewarm_id_.reset();
    log("warm workload ready: pid " + std::to_string(workload_->process->pid()));
    reply(id, {{"event", "prewarmed"},
               {"pid", workload_->process->pid()},
               {"uptime_s", uptime_s()},
               {"line", message}});
    return;
  }
  if (!message.is_discarded() && message.is_object())
    send({{"event", "workload"}, {"line", message}});
  else
    send({{"event", "workload"}, {"text", line}});
}

void GuestAgent::reap() {
  for (;;) {
    int raw = 0;
    const pid_t pid = ::waitpid(-1, &raw, WNOHANG);
    if (pid <= 0) return;  // orphans reparented to PID 1 are reaped here too, silently
    const ExitStatus status = ExitStatus::from_wait_status(raw);
    if (workload_ && pid == workload_->process->pid()) {
      workload_->process->set_status(status);
      on_workload_exit();
    } else if (enforcer_ && pid == enforcer_->process->pid()) {
      enforcer_->process->set_status(status);
      on_enforcer_exit();
    }
  }
}

void GuestAgent::on_workload_exit() {
  read_child(*workload_, true, false, true);
  read_child(*workload_, false, false, true);
  if (pending_prewarm_id_) {
    fail_prewarm("the warm workload exited (" + workload_->process->status()->describe() +
                 ") before its warm line");
    return;
  }
  log("workload exited: " + workload_->process->status()->describe());
  send({{"event", "exit"},
        {"status", status_json(workload_->process->status())},
        {"stderr_tail", workload_->stderr_tail},
        {"cgroup_stats", cgroup_stats()}});
}

void GuestAgent::on_enforcer_exit() {
  read_child(*enforcer_, true, true, true);
  read_child(*enforcer_, false, true, true);
  const auto status = enforcer_->process->status();
  log("enforcer exited: " + status->describe());
  if (pending_start_) {
    fail_start("enforcer",
               "the enforcer exited (" + status->describe() + ") before its ready line");
    return;
  }
  send({{"event", "enforcer_exit"},
        {"status", status_json(status)},
        {"stderr_tail", enforcer_->stderr_tail}});
}

// ---------------------------------------------------------------------------------------------
// read_file, events, stop

void GuestAgent::handle_read_file(const json& op, const json& id) {
  const std::string path = op.value("path", std::string());
  if (path.empty() || path.front() != '/') throw input_error("read_file: 'path' must be absolute");
  const std::uint64_t limit = std::min(op.value("max_bytes", kMaxReadFile), kMaxReadFile);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    reply(id, {{"event", "file"},
               {"path", path},
               {"exists", errno != ENOENT && errno != ENOTDIR},
               {"error", strerror(errno)}});
    return;
  }
  std::string content;
  char buffer[65536];
  bool truncated = false;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      reply(id, {{"event", "file"}, {"path", path}, {"exists", true}, {"error", strerror(errno)}});
      return;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() >= limit) {
      truncated = content.size() > limit;
      content.resize(limit);
      break;
    }
  }
  reply(id, {{"event", "file"},
             {"path", path},
             {"exists", true},
             {"size", content.size()},
             {"truncated", truncated},
             {"content_b64", base64_encode(content)}});
}

void GuestAgent::handle_events(const json& op, const json& id) {
  const std::size_t since =
      std::min<std::size_t>(op.value("since", std::size_t{0}), enforcer_events_.size());
  // Drain what the daemon wrote so far, so the answer includes decisions made just now.
  if (enforcer_) read_child(*enforcer_, true, true, true);
  json events = json::array();
  for (std::size_t i = since; i < enforcer_events_.size(); ++i)
    events.push_back(enforcer_events_[i]);
  reply(id, {{"event", "enforcer_events"},
             {"events", std::move(events)},
             {"since", since},
             {"total", enforcer_events_.size()},
             {"dropped", enforcer_dropped_ + agent_dropped_},
             {"enforcer_running", enforcer_ && enforcer_->process->running()}});
}

std::optional<ExitStatus> GuestAgent::stop_child(Managed* child, std::chrono::milliseconds grace) {
  if (!child) return std::nullopt;
  ChildProcess& process = *child->process;
  if (process.running()) {
    process.signal_group(SIGTERM);
    if (!process.wait_for(grace)) {
      process.signal_group(SIGKILL);
      process.wait_for(std::chrono::milliseconds(5000));
    }
  }
  return process.status();
}

void GuestAgent::handle_stop(const json& op, const json& id) {
  const auto grace =
      std::chrono::milliseconds(static_cast<std::int64_t>(op.value("grace_s", 5.0) * 1000));
  std::optional<ExitStatus> workload_exit;
  std::string stderr_tail;
  if (workload_) {
    workload_exit = stop_child(workload_.get(), grace);
    read_child(*workload_, true, false, true);
    read_child(*workload_, false, false, true);
    stderr_tail = workload_->stderr_tail;
  }
  const json stats = cgroup_stats();  // before cgroup.kill, while pids.current means something
  if (!cgroup_dir_.empty()) {
    // Whatever the workload left behind in its cgroup (a payload's daemons) goes too.
    std::ofstream(cgroup_dir_ + "/cgroup.kill") << "1";
  }
  std::optional<ExitStatus> enforcer_exit;
  if (enforcer_) {
    read_child(*enforcer_, true, true, true);
    enforcer_exit = stop_child(enforcer_.get(), std::chrono::milliseconds(5000));
    read_child(*enforcer_, true, true, true);
  }
  reply(id, {{"event", "stopped"},
             {"workload_exit", status_json(workload_exit)},
             {"enforcer_exit", status_json(enforcer_exit)},
             {"stderr_tail", stderr_tail},
             {"cgroup_stats", stats},
             {"events_total", enforcer_events_.size()}});
  agent_port_.drain(std::chrono::milliseconds(5000));
  stopped_ = true;
}

// ---------------------------------------------------------------------------------------------
// prewarm, resume (snapshots)

void GuestAgent::handle_prewarm(const json& op, const json& id) {
  if (workload_ || pending_start_ || warm_) throw input_error("a workload was already started");
  PrewarmRequest request = decode_prewarm(op);
  prepare_cgroup(request.cgroup);
  // Confined and in its cgroup from the start, like a started workload; stdin is where its argv
  // arrives.
  auto process = std::make_unique<ChildProcess>(
      ChildSpec{request.argv, workload_environment(request.env), cgroup_fd_.get(), /*confine=*/true,
                /*stdin_pipe=*/true});
  workload_ = std::make_unique<Managed>();
  workload_->process = std::move(process);
  set_nonblocking(workload_->process->stdout_fd());
  set_nonblocking(workload_->process->stderr_fd());
  prewarm_deadline_ = Clock::now() + std::chrono::milliseconds(
                                         static_cast<std::int64_t>(request.ready_timeout_s * 1000));
  warm_ = std::move(request);
  pending_prewarm_id_ = id;
  log("warm workload started: pid " + std::to_string(workload_->process->pid()));
}

void GuestAgent::fail_prewarm(const std::string& error) {
  json message = {{"event", "error"}, {"op", "prewarm"}, {"error", error}};
  if (workload_) {
    stop_child(workload_.get(), std::chrono::milliseconds(2000));
    read_child(*workload_, false, false, true);
    message["stderr"] = workload_->stderr_tail;
    workload_.reset();
  }
  log("prewarm failed: " + error);
  const json id = pending_prewarm_id_.value_or(json(nullptr));
  pending_prewarm_id_.reset();
  warm_.reset();
  reply(id, std::move(message));
}

void GuestAgent::check_warm_match(const WorkloadRequest& workload) const {
  if (pending_prewarm_id_) throw input_error("the warm workload is not ready yet");
  if (!workload_->process->running())
    throw environment_error(
        "the warm workload has exited: " + workload_->process->status()->describe() + "; " +
        workload_->stderr_tail.substr(0, 2000));
  if (workload.argv[0] != warm_->argv[0] || workload.env != warm_->env ||
      workload.cgroup != warm_->cgroup)
    throw input_error(
        "the start op's interpreter, environment or cgroup differ from the warm workload's");
  if (workload.unconfined)
    throw input_error("an unconfined start cannot run in the warm workload, which is confined");
}

void GuestAgent::handle_resume(const json& op, const json& id) {
  if (resumed_) throw input_error("the guest was resumed already");
  const ResumeRequest request = decode_resume(op);
  set_wall_clock(request.unix_time_ns);
  reseed_entropy(request.entropy);
  adopt_host_root();
  if (workload_ && workload_->process->running()) adopt_host_root_in(workload_->process->pid());
  std::error_code ec;
  fs::create_directories(options_.state_dir, ec);
  if (!request.enforcer.empty()) options_.enforcer = request.enforcer;
  resumed_ = true;
  log("resumed on the host root");
  reply(id, {{"event", "resumed"},
             {"uptime_s", uptime_s()},
             {"warm_pid", workload_ ? json(workload_->process->pid()) : json(nullptr)}});
}

void power_off(const std::string& why, bool failed) {
  if (::getpid() != 1) {
    // Not the guest's init (a test on the host): reboot() would power off the HOST. Just exit.
    log("not PID 1, exiting instead of powering off: " + why);
    ::_exit(failed ? 1 : 0);
  }
  log("powering off: " + why);
  ::sync();
  ::reboot(RB_POWER_OFF);
  // A PID 1 must never exit (the kernel would panic): wait for the host to destroy the domain.
  log(std::string("reboot(RB_POWER_OFF) failed: ") + strerror(errno));
  for (;;) ::pause();
}

}  // namespace armorbench::vms::agent
