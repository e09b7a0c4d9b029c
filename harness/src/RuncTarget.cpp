// RuncTarget and its sandbox: bundle, runc create, enforcer scoping, runc start, readiness on the
// container's stdout, HTTP over a bind-mounted unix socket, observation through scratch dirs.
#include "armorbench/harness/RuncTarget.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/HostEnforcer.h"
#include "armorbench/harness/OciBundle.h"
#include "armorbench/harness/Seccomp.h"
#include "armorbench/harness/Workspace.h"

namespace armorbench {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kRuntimeCommandTimeout{30'000};
constexpr milliseconds kStopTimeout{10'000};
constexpr milliseconds kGracefulStop{5'000};
constexpr std::size_t kLogTail = 4000;  // bytes of a runtime's or the server's stderr kept
constexpr std::size_t kServerLogKept = 64 * 1024;  // what is held to take that tail from
constexpr const char* kSocketDir = "armorbench";   // under /run
constexpr const char* kSocketName = "server.sock";

milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

void write_file(const fs::path& path, const std::string& content, unsigned mode) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw harness_error("cannot write " + path.string());
  ::chmod(path.c_str(), mode);
}

// Maps a path inside the container to its scratch copy on the host; nullopt when the path is
// not in a scratch-backed directory (/tmp, /run) or tries to climb out with "..".
std::optional<fs::path> scratch_path(const fs::path& scratch, const std::string& sandbox_path) {
  const fs::path p = fs::path(sandbox_path).lexically_normal();
  auto it = p.begin();
  if (it == p.end() || *it != "/") return std::nullopt;
  ++it;
  if (it == p.end() || (*it != "tmp" && *it != "run")) return std::nullopt;
  for (const auto& part : p)
    if (part == "..") return std::nullopt;
  return scratch / p.relative_path();
}

std::optional<ExitStatus> wait_pid(pid_t pid, milliseconds timeout) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return std::nullopt;  // already reaped or never ours
  pollfd fd{pidfd.get(), POLLIN, 0};
  if (poll_interruptible(&fd, 1, timeout) <= 0) return std::nullopt;
  int raw = 0;
  // The harness is a child subreaper, so the container's init is our child once runc exited.
  if (::waitpid(pid, &raw, 0) == pid) return ExitStatus::from_wait_status(raw);
  return ExitStatus{};  // exited, but its status went to someone else
}

}  // namespace

class RuncSandbox final : public Sandbox {
 public:
  RuncSandbox(RuncTarget& target, const WorkloadSpec& workload, const EnforcementPlan& plan,
              bool watch_exec);
  ~RuncSandbox() override;

  const SandboxInfo& info() const override { return info_; }
  ReadyResult wait_ready() override;
  UniqueFd connect_inference() override;
  enforcer::EnforcerReport enforcer_report() override;
  SandboxFinal stop(const std::vector<std::string>& keep_files) override;
  std::vector<Evidence> failure_logs() override {
    try {
      collect_stderr();
    } catch (...) {  // what was read so far is what there is
    }
    if (server_log_.empty()) return {};
    return {{"log",
             "model server stderr (tail)",
             {{"source", "container " + id_ + " stderr"},
              {"tail", output_tail(server_log_, kLogTail)}}}};
  }

  // AttackSurface: the container's init is the model server.
  std::string host_address() const override { return target_.host_address(); }
  std::optional<std::string> read_file(const std::string& sandbox_path) override;
  attacks::StorageUsage storage_usage() override;
  attacks::ModelHolder model_holder() override {
    return {init_pid_, "the container's model server"};
  }
  attacks::MemoryDumpInfo dump_memory(const fs::path&) override {
    throw unsupported_error(
        "core_dump dumps a VM's memory through libvirt; it has no meaning for a container (use "
        "process_vm_readv, proc_mem, ptrace or io_uring)");
  }
  CommandResult run_sibling(const attacks::SiblingSpec& sibling) override;
  nlohmann::json timings() const override { return timings_; }
  bool workload_gone() override;

 private:
  void create_container();
  void runtime(const std::vector<std::string>& args, const std::string& what);
  void delete_container();
  // What the server wrote to stderr, its last kServerLogKept bytes: a workload that floods stderr
  // costs a bounded read per call and bounded memory.
  void collect_stderr() {
    server_log_ += drain(stderr_.get(), kServerLogKept);
    if (server_log_.size() > kServerLogKept)
      server_log_.erase(0, server_log_.size() - kServerLogKept);
  }
  std::vector<attacks::Denial> seccomp_denials();

  RuncTarget& target_;
  std::string id_;
  ScopedDirectory dir_;
  fs::path scratch_;
  // Under a disk limit, the tmpfs holding scratch_ (unmounted before dir_ is removed).
  std::optional<SizedTmpfs> disk_;
  SandboxInfo info_;
  UniqueFd stdout_;
  UniqueFd stderr_;
  std::string stdout_buffer_;
  std::string server_log_;
  pid_t init_pid_ = -1;
  std::optional<CgroupPaths> cgroup_;
  EnforcementPlan plan_;
  std::shared_ptr<HostEnforcer> enforcer_;  // the run's, from its pool
  bool scoped_ = false;
  bool watch_exec_ = false;
  milliseconds ready_timeout_;
  bool created_ = false;
  std::optional<ExitStatus> exit_;
  std::chrono::steady_clock::time_point started_;
  nlohmann::json timings_ = nlohmann::json::object();
  std::optional<KernelLogWatch> kernel_log_;  // with a seccomp profile: its refusals
};

RuncSandbox::RuncSandbox(RuncTarget& target, const WorkloadSpec& workload,
                         const EnforcementPlan& plan, bool watch_exec)
    : target_(target),
      id_("ab-" + target.context_.run_id + "-" + std::to_string(++target.sandboxes_created_)),
      dir_(target.context_.work_dir / "sandboxes" / id_),
      scratch_(dir_.path() / "scratch"),
      plan_(plan),
      watch_exec_(watch_exec),
      ready_timeout_(workload.ready_timeout) {
  info_.runtime = target.runtime_ + " " + target.runtime_version_ + " (seccomp " +
                  target.spec_.seccomp.name() + ")";
  if (workload.limits.disk_bytes) disk_.emplace(scratch_, *workload.limits.disk_bytes);
  fs::create_directories(scratch_ / "tmp");
  fs::create_directories(scratch_ / "run" / kSocketDir);
  fs::create_directories(dir_.path() / "bundle");
  ::chmod((scratch_ / "tmp").c_str(), 01777);

  BundleSpec bundle;
  bundle.container_id = id_;
  bundle.rootfs = target.rootfs();
  bundle.scratch_tmp = scratch_ / "tmp";
  bundle.scratch_run = scratch_ / "run";
  bundle.network = target.spec_.network;
  bundle.limits = workload.limits;
  bundle.cgroups_path = "/armorbench/" + id_;
  bundle.env = {"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"};
  bundle.extra_capabilities = target.spec_.capabilities;
  bundle.seccomp = seccomp_profile(
      target.spec_.seccomp, runtime_sets_seccomp_flags(target.runtime_, target.runtime_version_));
  if (bundle.seccomp) kernel_log_.emplace();  // from before the container exists
  bundle.binds.push_back({workload.model_dir, "/run/models", true});
  for (const PlantedFile& file : workload.planted) {
    if (auto host = scratch_path(scratch_, file.sandbox_path)) {
      write_file(*host, file.content, file.mode);
    } else if (file.sandbox_path.rfind("/dev/", 0) == 0) {
      const fs::path host = dir_.path() / "planted" / fs::path(file.sandbox_path).relative_path();
      write_file(host, file.content, file.mode);
      bundle.binds.push_back({host, file.sandbox_path, false});
    } else {
      throw harness_error("cannot plant " + file.sandbox_path +
                          ": only /tmp, /run and /dev are "
                          "writable in a runc sandbox");
    }
  }
  // The server comes in through a read-only bind, not from the rootfs: a rootfs directory has no
  // checkout in it, and the host root's /tmp (where a checkout may live) is the sandbox's own.
  bundle.binds.push_back(
      {target.context_.data_dir / "harness" / "workload", "/run/armorbench-workload", true});
  bundle.args = {"/usr/bin/python3", "/run/armorbench-workload/model_server.py",
                 "--model",          "/run/models/" + workload.model_file,
                 "--config",         "/run/models/model.json",
                 "--loader",         to_string(workload.loader),
                 "--socket",         std::string("/run/") + kSocketDir + "/" + kSocketName};
  write_bundle(dir_.path() / "bundle", bundle);

  try {
    create_container();
  } catch (...) {
    delete_container();  // the destructor does not run for a constructor that throws
    throw;
  }
}

void RuncSandbox::create_container() {
  const auto start = std::chrono::steady_clock::now();
  const fs::path pid_file = dir_.path() / "init.pid";
  // `create` runs detached with pass-through stdio: the container's stdout and stderr are the
  // pipes we hand to runc here, and they outlive the runc process.
  Subprocess create(
      Subprocess::Spec{{target_.runtime_path_, "create", "--bundle",
                        (dir_.path() / "bundle").string(), "--pid-file", pid_file.string(), id_},
                       Subprocess::Stdio::kCapture,
                       Subprocess::Stdio::kCapture,
                       {}});
  stdout_ = create.take_stdout();
  stderr_ = create.take_stderr();
  // From here on, teardown deletes the container whatever happens, even when the wait below
  // ends in a step's timeout or an interrupt with runc half-way (a delete of an id runc does not
  // know is harmless).
  created_ = true;
  auto status = create.wait_for(kRuntimeCommandTimeout);
  if (!status || !status->exited_ok()) {
    collect_stderr();
    throw harness_error(target_.runtime_ + " create " + id_ + " failed (" +
                        (status ? status->describe() : "timed out") +
                        "): " + output_tail(server_log_, kLogTail));
  }
  timings_["create_ms"] = since(start).count();

  std::ifstream pid_in(pid_file);
  pid_in >> init_pid_;
  if (init_pid_ <= 0) throw harness_error(target_.runtime_ + " create wrote no pid file");
  cgroup_ = CgroupPaths::of_process(init_pid_);
  if (cgroup_) {
    info_.cgroup_id = cgroup_->unified_id();
    info_.cgroup_dir = cgroup_->unified();
  }
  info_.init_pid = init_pid_;

  // The container's init is waiting for `start`: take the run's enforcer (loaded once, its rule
  // set swapped for this mode) and scope it to the cgroup now, so it is in force before the
  // model server runs a single instruction. Mode off without an exec watch runs with none: the
  // pool tears down an enforcing one first.
  std::shared_ptr<HostEnforcerPool> pool = target_.context_.host_enforcers;
  if (plan_.mode != EnforcerMode::kOff || watch_exec_) {
    if (!info_.cgroup_id)
      throw unsupported_error("the container has no cgroup v2 directory to scope the enforcer to");
    StepDeadline load_step("enforcer-load", plan_.load_timeout);
    const auto load_start = std::chrono::steady_clock::now();
    HostEnforcerPool::Lease lease =
        pool ? pool->acquire(plan_)
             : HostEnforcerPool::Lease{std::make_shared<HostEnforcer>(plan_), true};
    enforcer_ = std::move(lease.enforcer);
    if (lease.loaded) timings_["enforcer_load_ms"] = since(load_start).count();
    const auto scope_start = std::chrono::steady_clock::now();
    // Path decisions for a process that left the container's view of the filesystem (a private
    // mount namespace with a binary bound over an allowed one, a chroot) fail closed.
    enforcer_->scope(*info_.cgroup_id, cgroup_->unified(), watch_exec_, init_pid_,
                     target_.context_.events_dir / (target_.spec_.name + "-" + id_ + ".jsonl"));
    scoped_ = true;
    timings_["enforcer_scope_ms"] = since(scope_start).count();
    info_.enforcer_backend = enforcer_->backend();
    info_.enforcer_location = "host kernel";
    info_.enforcer_reused = !lease.loaded;
    load_step.finish();  // a libbpf load waits on nothing that a deadline could cut
  } else if (pool) {
    const auto release_start = std::chrono::steady_clock::now();
    pool->release();
    timings_["enforcer_release_ms"] = since(release_start).count();
  }

  started_ = std::chrono::steady_clock::now();
  runtime({"start", id_}, "start");
  timings_["start_ms"] = since(started_).count();
}

void RuncSandbox::runtime(const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv{target_.runtime_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = run_command(argv, kRuntimeCommandTimeout);
  if (result.timed_out || !result.status.exited_ok())
    throw harness_error(target_.runtime_ + " " + what + " " + id_ + " failed (" +
                        (result.timed_out ? "timed out" : result.status.describe()) +
                        "): " + output_tail(result.err, kLogTail));
}

ReadyResult RuncSandbox::wait_ready() {
  ReadyResult result;
  const auto deadline_left = [&] {
    return std::max(milliseconds(0), ready_timeout_ - since(started_));
  };
  bool timed_out = false;
  while (auto line = read_line(stdout_.get(), stdout_buffer_, deadline_left(), &timed_out)) {
    auto message = nlohmann::json::parse(*line, nullptr, false);
    if (message.is_discarded() || !message.is_object()) continue;  // the payload may print too
    const std::string event = message.value("event", "");
    if (event == "ready") {
      result.ready = true;
      result.ready_message = message;
      break;
    }
    if (event == "load_failed") {
      result.failure = "model load failed: " + message.value("error", "unknown error");
      result.ready_message = message;
      break;
    }
  }
  result.elapsed = since(started_);
  timings_["ready_ms"] = result.elapsed.count();
  if (!result.ready && result.failure.empty()) {
    if (timed_out) {
      result.failure = "model server not ready within the timeout";
    } else {
      exit_ = wait_pid(init_pid_, kStopTimeout);
      result.failure = "model server exited before it was ready (" +
                       (exit_ ? exit_->describe() : std::string("status unknown")) + ")";
    }
  }
  collect_stderr();
  return result;
}

// How long a connect may wait for room in the model server's listen backlog.
constexpr milliseconds kConnectTimeout{10'000};

UniqueFd RuncSandbox::connect_inference() {
  const fs::path socket_path = scratch_ / "run" / kSocketDir / kSocketName;
  // Non-blocking: a UNIX socket whose listen backlog is full (a server starved by slow-loris
  // connections) makes a blocking connect wait for ever; this one retries EAGAIN until its
  // deadline, interruptibly, and then says why.
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.string().size() >= sizeof address.sun_path)
    throw harness_error("socket path too long: " + socket_path.string());
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  const auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EAGAIN || std::chrono::steady_clock::now() >= deadline)
      throw harness_error("cannot connect to the model server at " + socket_path.string() + ": " +
                          (errno == EAGAIN ? "its listen backlog stayed full for " +
                                                 std::to_string(kConnectTimeout.count()) + " ms"
                                           : std::string(std::strerror(errno))));
    poll_interruptible(nullptr, 0, milliseconds(10));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

attacks::StorageUsage RuncSandbox::storage_usage() {
  attacks::StorageUsage usage;
  for (const char* dir : {"tmp", "run"}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator
             it(scratch_ / dir, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
        usage.used_bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  if (!disk_) return usage;
  usage.limit_bytes = disk_->bytes();
  // One page of the harness's own: refused with ENOSPC only when not a byte more fits.
  const fs::path probe = scratch_ / ".armorbench-probe";
  UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    usage.full = errno == ENOSPC;
    usage.probe = std::string("open: ") + strerror(errno);
    return usage;
  }
  const std::string page(4096, 'p');
  const ssize_t n = ::write(fd.get(), page.data(), page.size());
  usage.full = n < 0 && errno == ENOSPC;
  usage.probe = n < 0 ? std::string("write: ") + strerror(errno)
                      : "a " + std::to_string(n) + "-byte write succeeded";
  ::unlink(probe.c_str());
  return usage;
}

std::optional<std::string> RuncSandbox::read_file(const std::string& sandbox_path) {
  const auto host = scratch_path(scratch_, sandbox_path);
  if (!host) return std::nullopt;
  struct stat st {};
  if (::lstat(host->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return read_whole_file(*host);
}

CommandResult RuncSandbox::run_sibling(const attacks::SiblingSpec& sibling) {
  // Its own container and cgroup, so it is "outside" the model's container, but with the host's
  // pid namespace and the capabilities asked for: a privileged pod with hostPID on the same node.
  const std::string sibling_id = id_ + "-sibling";
  ScopedDirectory sibling_dir(dir_.path() / "sibling");
  fs::create_directories(sibling_dir.path() / "tmp");
  fs::create_directories(sibling_dir.path() / "run");
  BundleSpec bundle;
  bundle.container_id = sibling_id;
  bundle.rootfs = target_.rootfs();
  bundle.scratch_tmp = sibling_dir.path() / "tmp";
  bundle.scratch_run = sibling_dir.path() / "run";
  bundle.host_pid_namespace = true;
  bundle.extra_capabilities = sibling.capabilities;
  bundle.cgroups_path = "/armorbench/" + sibling_id;
  for (const auto& [host, inside] : sibling.binds) bundle.binds.push_back({host, inside, true});
  bundle.args = sibling.argv;
  write_bundle(sibling_dir.path(), bundle);
  // Deleted on every path: a step's timeout or an interrupt during `runc run` ends only runc, not
  // the privileged container it made.
  struct SiblingDelete {
    const std::string& runtime;
    const std::string& id;
    ~SiblingDelete() {
      InterruptShield shield;
      try {
        run_command({runtime, "delete", "--force", id}, kRuntimeCommandTimeout);
      } catch (...) {  // its id carries the run id: `armorbench clean` removes it
      }
    }
  } delete_sibling{target_.runtime_path_, sibling_id};
  CommandResult result = run_command(
      {target_.runtime_path_, "run", "--bundle", sibling_dir.path().string(), sibling_id},
      sibling.timeout);
  // `runc run` exits 128+N when the container's process died of signal N: report the signal,
  // as for any other process (a SIGKILL from the enforcer is evidence).
  if (!result.timed_out && result.status.signal == 0 && result.status.code > 128 &&
      result.status.code < 128 + 65) {
    result.status.signal = result.status.code - 128;
    result.status.code = -1;
  }
  return result;
}

bool RuncSandbox::workload_gone() {
  if (!cgroup_ || cgroup_->unified().empty()) return false;
  // cgroup.events counts the cgroups below too, so a process that moved down is still seen.
  std::ifstream events(cgroup_->unified() / "cgroup.events");
  std::string key, value;
  while (events >> key >> value)
    if (key == "populated") return value == "0";
  return false;
}

enforcer::EnforcerReport RuncSandbox::enforcer_report() {
  if (!enforcer_ || !info_.cgroup_id) return {};
  return enforcer_->report_for(*info_.cgroup_id);
}

SandboxFinal RuncSandbox::stop(const std::vector<std::string>&) {
  // The scratch dirs outlive the container: read_file() answers from them after the stop.
  InterruptShield shield;
  SandboxFinal final;
  if (cgroup_) final.cgroup = cgroup_->read_stats();
  if (created_ && !exit_) exit_ = wait_pid(init_pid_, milliseconds(0));  // ended on its own?
  final.exited_early = exit_.has_value();
  if (created_) {
    if (!exit_) {
      // Graceful first (the server exits 0 on SIGTERM), so that a SIGKILL in the evidence can
      // only have come from somewhere else (the enforcer, the OOM killer).
      run_command({target_.runtime_path_, "kill", id_, "TERM"}, kRuntimeCommandTimeout);
      exit_ = wait_pid(init_pid_, kGracefulStop);
    }
    if (!exit_) {
      run_command({target_.runtime_path_, "kill", id_, "KILL"}, kRuntimeCommandTimeout);
      exit_ = wait_pid(init_pid_, kStopTimeout);
    }
    delete_container();
  }
  final.workload_exit = exit_;
  collect_stderr();
  final.server_log = output_tail(server_log_, kLogTail);
  if (kernel_log_) final.runtime_denials = seccomp_denials();
  return final;
}

// The seccomp refusals the kernel logged while this container ran, for its processes: a live
// process must be in the container's cgroup; one that has exited is taken as the container's
// because the harness runs one case at a time (said in the evidence).
std::vector<attacks::Denial> RuncSandbox::seccomp_denials() {
  std::vector<attacks::Denial> denials;
  const std::string profile = target_.spec_.seccomp.name();
  for (const SeccompRecord& record : kernel_log_->seccomp_records()) {
    std::string basis = "logged while this container ran; the process has exited";
    if (auto cgroup = CgroupPaths::of_process(record.pid)) {
      if (!cgroup_ || cgroup->unified().string().rfind(cgroup_->unified().string(), 0) != 0)
        continue;  // someone else's
      basis = "the process is in this container's cgroup";
    }
    attacks::Denial d = seccomp_denial(record, profile);
    d.evidence["attributed_by"] = basis;
    denials.push_back(std::move(d));
  }
  return denials;
}

void RuncSandbox::delete_container() {
  if (!created_) return;
  InterruptShield shield;
  created_ = false;
  if (scoped_) enforcer_->unscope(*info_.cgroup_id);
  scoped_ = false;
  run_command({target_.runtime_path_, "delete", "--force", id_}, kRuntimeCommandTimeout);
  if (init_pid_ > 0) ::waitpid(init_pid_, nullptr, WNOHANG);  // reap if it is our child
  // A workload can make cgroups below its own (a cgroup namespace and a cgroup2 mount); the
  // runtime removes only the container's, and not while those exist.
  if (cgroup_) remove_cgroup_tree(cgroup_->unified());
}

RuncSandbox::~RuncSandbox() {
  try {
    delete_container();
  } catch (...) {
    // Interrupted while deleting: the container id carries the run id for `armorbench gc`.
  }
  if (enforcer_ && info_.cgroup_id) enforcer_->forget(*info_.cgroup_id);
}

RuncTarget::RuncTarget(TargetSpec spec, TargetContext context)
    : spec_(std::move(spec)), context_(std::move(context)) {
  runtime_ = spec_.kind == TargetKind::kCrun ? "crun" : "runc";
  runtime_path_ = find_executable(runtime_).value_or("");
  if (!runtime_path_.empty()) {
    const CommandResult version = run_command({runtime_path_, "--version"}, milliseconds(5000));
    std::istringstream first_line(version.out);
    std::string word1, word2, number;
    first_line >> word1 >> word2 >> number;  // "runc version 1.1.5+ds1"
    runtime_version_ = number;
  }
}

RuncTarget::~RuncTarget() = default;

std::optional<std::string> RuncTarget::unavailable_reason() {
  if (runtime_path_.empty()) return runtime_ + " is not installed (not found on PATH)";
  if (::geteuid() != 0) return runtime_ + " targets need root (containers, cgroups, mounts)";
  return std::nullopt;
}

const fs::path& RuncTarget::rootfs() {
  if (spec_.rootfs != "host") {
    if (rootfs_dir_.empty()) rootfs_dir_ = fs::absolute(spec_.rootfs);
    return rootfs_dir_;
  }
  if (!host_root_)
    host_root_ = std::make_unique<HostRootBind>(context_.work_dir / ("rootfs-" + spec_.name));
  return host_root_->path();
}

std::unique_ptr<Sandbox> RuncTarget::launch(const WorkloadSpec& workload,
                                            const EnforcementPlan& enforcement, bool watch_exec) {
  return std::make_unique<RuncSandbox>(*this, workload, enforcement, watch_exec);
}

}  // namespace armorbench
