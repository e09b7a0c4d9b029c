// armorbench-enforcer: the enforcer as a standalone daemon, for a guest VM or a real node.
// Loads policies, scopes the given cgroups, writes every decision as a JSON line, reloads the
// policies atomically on SIGHUP, and detaches everything on SIGINT/SIGTERM. With --pin, its
// links and maps are pinned on bpffs so that enforcement survives the daemon's death; the next
// daemon pinning under the same directory takes over what a dead one left.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "armorbench/base/Error.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/enforcer/Enforcer.h"
#include "armorbench/enforcer/PinnedState.h"
#include "armorbench/enforcer/Policy.h"

namespace {

using namespace armorbench;
using namespace armorbench::enforcer;

const char* kUsage = R"(usage: armorbench-enforcer --policy FILE [--policy FILE...] [options]
  --policy FILE            KubeArmorPolicy YAML or native TOML policy (repeatable)
  --cgroup DIR             cgroup v2 directory to enforce on (repeatable)
  --events FILE            append decisions as JSON lines (default: stdout)
  --mode block|audit       audit turns every Block into Audit (default: block)
  --backend auto|tracepoint|bpf-lsm    (default: auto, probed)
  --default-posture block|audit        for what an allowlist does not allow (default: block)
  --watch-exec             also report every exec in the cgroups (observe events)
  --pin DIR                pin links and maps under DIR (on bpffs, e.g. /sys/fs/bpf/armorbench):
                           enforcement survives a crash of the daemon; a daemon started with the
                           same DIR takes over (writes what the dead one's programs recorded,
                           then releases its pins); a clean exit removes every pin
  --check                  validate and compile the policies, then exit
A ready line {"event":"ready",...} goes to stdout once everything is attached.
Signals: SIGHUP reloads the policies (one atomic swap), SIGINT/SIGTERM detach and exit (and
unpin). Any other end (a crash, SIGKILL, an error) leaves pinned enforcement in force.
exit codes: 0 ok, 2 internal error, 3 the kernel cannot load what the policies need, 4 bad input
)";

std::atomic<int> g_reload{0};
std::atomic<int> g_stop{0};

struct Options {
  std::vector<std::filesystem::path> policies;
  std::vector<std::string> cgroups;
  std::string events;
  bool audit = false;
  Backend backend = Backend::kAuto;
  DefaultPosture posture = DefaultPosture::kBlock;
  bool watch_exec = false;
  bool check = false;
  std::filesystem::path pin;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw input_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--policy")
      o.policies.push_back(value());
    else if (arg == "--cgroup")
      o.cgroups.push_back(value());
    else if (arg == "--events")
      o.events = value();
    else if (arg == "--mode") {
      const std::string mode = value();
      if (mode != "block" && mode != "audit") throw input_error("--mode is block or audit");
      o.audit = mode == "audit";
    } else if (arg == "--backend") {
      const auto backend = backend_from_string(value());
      if (!backend) throw input_error("--backend is auto, tracepoint or bpf-lsm");
      o.backend = *backend;
    } else if (arg == "--default-posture") {
      const auto posture = default_posture_from_string(value());
      if (!posture) throw input_error("--default-posture is block or audit");
      o.posture = *posture;
    } else if (arg == "--watch-exec")
      o.watch_exec = true;
    else if (arg == "--check")
      o.check = true;
    else if (arg == "--pin")
      o.pin = value();
    else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else
      throw input_error("unknown argument " + arg);
  }
  if (o.policies.empty()) throw input_error("at least one --policy is needed");
  return o;
}

RuleSet compile_policies(const Options& o, std::uint32_t generation) {
  return compile_policy_files(o.policies, PolicyFileOptions{o.audit, o.posture, generation});
}

// The pin root, made if missing: it must be on a bpf filesystem, and no live daemon may pin
// there (two daemons would release each other's state). `lock` receives the root's exclusive
// flock, held for the daemon's life: two daemons started at once cannot both pass the check
// (the kernel drops the lock with a dead daemon's descriptors).
std::vector<PinnedInstance> prepare_pin_root(const std::filesystem::path& root, UniqueFd& lock) {
  std::error_code ec;
  const bool made = std::filesystem::create_directories(root, ec);
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0 || fs.f_type != BPF_FS_MAGIC) {
    if (made) ::rmdir(root.c_str());
    throw input_error("--pin " + root.string() +
                      " is not a directory on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)");
  }
  lock = UniqueFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
    throw input_error("--pin " + root.string() + ": another daemon holds it (" +
                      std::strerror(errno) + "); stop it or pin elsewhere");
  std::vector<PinnedInstance> instances = pinned_instances(root);
  for (const PinnedInstance& instance : instances)
    if (instance.foreign)
      throw input_error("--pin " + root.string() + ": " + instance.dir.string() +
                        " was pinned from another pid namespace, whose daemon may still run; "
                        "release it from there, or pin elsewhere");
    else if (instance.owner_alive)
      throw input_error("--pin " + root.string() + ": daemon pid " + std::to_string(instance.pid) +
                        " is running with it (" + instance.dir.string() +
                        "); stop it or pin elsewhere");
  return instances;
}

int run(const Options& o) {
  std::vector<PinnedInstance> predecessors;
  std::uint32_t generation = 1;
  UniqueFd pin_lock;
  if (!o.pin.empty() && !o.check) {
    predecessors = prepare_pin_root(o.pin, pin_lock);
    // Generations go on from the predecessors', so that no two rule sets share a number in the
    // events of one pin directory.
    for (const PinnedInstance& p : predecessors)
      generation = std::max(generation, pinned_generation(p.dir) + 1);
  }
  RuleSet rules = compile_policies(o, generation);
  if (o.check) {
    std::cout << "ok: " << rules.rules.size() - 1 << " rule(s), " << rules.entries.size()
              << " map entries\n";
    return 0;
  }
  std::ofstream events_file;
  if (!o.events.empty()) {
    events_file.open(o.events, std::ios::app);
    if (!events_file) throw environment_error("cannot open " + o.events);
  }
  std::ostream& events = o.events.empty() ? std::cout : events_file;

  Enforcer enforcer(std::move(rules), EnforcerOptions{o.backend, o.watch_exec});
  enforcer.set_sink([&](const Event& e) {
    events << e.record().to_json().dump() << '\n' << std::flush;
  });
  for (const std::string& dir : o.cgroups) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
      throw input_error("cgroup directory " + dir + " does not exist");
    enforcer.scope(Scope{static_cast<std::uint64_t>(st.st_ino), dir, true, o.watch_exec});
  }
  nlohmann::json ready = {{"event", "ready"},
                          {"backend", to_string(enforcer.backend())},
                          {"attached", enforcer.attached()},
                          {"generation", enforcer.generation()},
                          {"pid", ::getpid()}};
  if (!o.pin.empty()) {
    // Ours first, then theirs released: at every moment one complete set is pinned or held.
    const std::filesystem::path own = own_pin_dir(o.pin);
    enforcer.pin(own);
    ready["pinned"] = own.string();
    ready["took_over"] = nlohmann::json::array();
    for (const PinnedInstance& p : predecessors) {
      const std::string from = p.dir.filename().string();
      const ReleasedInstance released = release_pinned(p.dir, [&](const Event& e) {
        // Decided by the dead daemon's rules, whose table died with it: rule id and generation.
        nlohmann::json line = e.record().to_json();
        line["inherited_from"] = from;
        events << line.dump() << '\n';
      });
      events << std::flush;
      ready["took_over"].push_back({{"instance", from},
                                    {"links", released.links},
                                    {"events", released.events},
                                    {"dropped", released.dropped}});
    }
  }
  std::cout << ready.dump() << std::endl;

  std::uint64_t reported_drops = 0;
  try {
    while (!g_stop.load()) {
      enforcer.poll(200);
      if (g_reload.exchange(0)) {
        try {
          enforcer.replace_rules(compile_policies(o, ++generation));
          std::cout << nlohmann::json{{"event", "reloaded"}, {"generation", generation}}.dump()
                    << std::endl;
        } catch (const Error& e) {
          // A bad edit must not drop enforcement: the previous rule set stays active.
          std::cerr << "armorbench-enforcer: reload refused, keeping generation "
                    << enforcer.generation() << ": " << e.describe() << "\n";
        }
      }
      const enforcer::EnforcerStats stats = enforcer.stats();
      const std::uint64_t dropped = stats.dropped + stats.rate_limited;  // not sent, either way
      if (dropped > reported_drops) {
        events << nlohmann::json{{"kind", "dropped"}, {"count", dropped - reported_drops}}.dump()
               << '\n'
               << std::flush;
        reported_drops = dropped;
      }
    }
  } catch (...) {
    if (!o.pin.empty())
      std::cerr << "armorbench-enforcer: exiting on an error; enforcement stays pinned under "
                << o.pin.string() << " (a daemon started with the same --pin takes it over)\n";
    throw;
  }
  enforcer.poll(0);
  if (!o.pin.empty()) {
    enforcer.unpin();
    ::rmdir(o.pin.c_str());  // only when empty: another tool's pins stay
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  struct sigaction action {};
  action.sa_handler = [](int signo) { (signo == SIGHUP ? g_reload : g_stop).store(1); };
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGHUP, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  try {
    return run(parse(argc, argv));
  } catch (const armorbench::Error& e) {
    std::cerr << "armorbench-enforcer: " << e.describe() << "\n";
    return static_cast<int>(armorbench::exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    std::cerr << "armorbench-enforcer: internal error: " << e.what() << "\n";
    return 2;
  }
}
