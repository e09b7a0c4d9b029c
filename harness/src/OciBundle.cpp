// OCI runtime-spec 1.0 config.json generation.
#include "armorbench/harness/OciBundle.h"

#include <cmath>
#include <fstream>

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

using nlohmann::json;

// The capability set runc's default spec grants; a model server needs nothing more.
const std::vector<std::string> kDefaultCapabilities{"CAP_AUDIT_WRITE", "CAP_KILL",
                                                    "CAP_NET_BIND_SERVICE"};

json mount(const std::string& destination, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return json{{"destination", destination},
              {"type", type},
              {"source", source},
              {"options", std::move(options)}};
}

json resources(const ResourceLimits& limits) {
  json r = json::object();
  if (limits.memory_bytes) {
    r["memory"] = {{"limit", *limits.memory_bytes}};
    // Without swap accounting the limit is per RAM only; this host has no swap.
  }
  if (limits.pids) r["pids"] = {{"limit", *limits.pids}};
  if (limits.cpus) {
    const std::uint64_t period = 100'000;
    r["cpu"] = {{"period", period},
                {"quota", static_cast<std::int64_t>(std::llround(*limits.cpus * period))}};
  }
  return r;
}

}  // namespace

json make_oci_config(const BundleSpec& spec) {
  if (spec.args.empty()) throw harness_error("OCI bundle without a process");
  std::vector<std::string> env{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOME=/tmp", "LANG=C.UTF-8"};
  env.insert(env.end(), spec.env.begin(), spec.env.end());

  std::vector<std::string> caps = kDefaultCapabilities;
  caps.insert(caps.end(), spec.extra_capabilities.begin(), spec.extra_capabilities.end());

  json mounts = json::array({
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
      mount("/tmp", "bind", spec.scratch_tmp.string(), {"rbind", "rw", "nosuid", "nodev"}),
      mount("/run", "bind", spec.scratch_run.string(), {"rbind", "rw", "nosuid", "nodev"}),
  });
  for (const BindMount& bind : spec.binds)
    mounts.push_back(mount(bind.destination, "bind", bind.source.string(),
                           {"rbind", bind.read_only ? "ro" : "rw", "nosuid", "nodev"}));

  json namespaces = json::array({{{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!spec.host_pid_namespace) namespaces.push_back({{"type", "pid"}});
  if (spec.network == NetworkMode::kNone) namespaces.push_back({{"type", "network"}});

  json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", spec.args},
        {"env", env},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 4096}, {"soft", 4096}}})},
        {"noNewPrivileges", true}}},
      {"root", {{"path", spec.rootfs.string()}, {"readonly", true}}},
      {"hostname", "armorbench"},
      {"mounts", mounts},
      {"linux",
       {{"cgroupsPath", spec.cgroups_path},
        {"resources", resources(spec.limits)},
        {"namespaces", namespaces},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
  };
  if (spec.seccomp) config["linux"]["seccomp"] = *spec.seccomp;
  return config;
}

void write_bundle(const std::filesystem::path& dir, const BundleSpec& spec) {
  const auto path = dir / "config.json";
  std::ofstream out(path);
  out << make_oci_config(spec).dump(2) << '\n';
  if (!out) throw harness_error("cannot write " + path.string());
}

}  // namespace armorbench
