// Leases of live runs, and the removal of what dead runs left behind.
#include "armorbench/harness/StaleRuns.h"

#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/harness/Workspace.h"
#include "armorbench/vms/GuestSnapshot.h"
#include "armorbench/vms/LibvirtConnection.h"

namespace armorbench {
namespace fs = std::filesystem;
namespace {

// Run ids are random_hex(4); container and cgroup names are ab-<run id>-<n>[-sibling].
const std::regex kContainerName("ab-([0-9a-f]{8})-[0-9]+(-sibling)?");
const std::regex kWorkDirName("armorbench-([0-9a-f]{8})");
// A snapshot build's guest run dir names the building process (vms GuestSnapshot.cpp).
const std::regex kSnapshotBuildDir("vm-snapshot-([0-9]+)");

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 3 < raw.size()) {
      const std::string digits = raw.substr(i + 1, 3);
      if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += raw[i];
  }
  return out;
}

std::vector<fs::path> mount_points() {
  std::vector<fs::path> points;
  std::istringstream in(read_whole_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    if (fields >> id >> parent >> devno >> root >> point)
      points.emplace_back(unescape_mount_path(point));
  }
  return points;
}

// The run id of a mount point inside a work dir (<base>/armorbench-<run id>/...), if any.
std::optional<std::string> run_id_below(const fs::path& point, const std::vector<fs::path>& bases) {
  for (const fs::path& base : bases) {
    const fs::path relative = point.lexically_relative(base);
    if (relative.empty() || *relative.begin() == "..") continue;
    std::smatch m;
    const std::string first = relative.begin()->string();
    if (std::regex_match(first, m, kWorkDirName)) return m[1].str();
  }
  return std::nullopt;
}

std::optional<std::string> run_id_of_container(const std::string& name) {
  std::smatch m;
  if (std::regex_match(name, m, kContainerName)) return m[1].str();
  return std::nullopt;
}

std::set<std::string> live_run_ids(const fs::path& lease_dir) {
  std::set<std::string> live;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(lease_dir, ec))
    if (entry.is_regular_file() && lease_is_live(entry.path()))
      live.insert(entry.path().filename().string());
  return live;
}

// Each cgroup hierarchy's armorbench parent (v2 unified, and each v1 controller crun used),
// once per real directory (cpu and cpuacct are symlinks to cpu,cpuacct).
std::vector<fs::path> cgroup_parents(const fs::path& root) {
  std::vector<fs::path> parents;
  std::set<fs::path> seen;
  auto consider = [&](const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    const fs::path real = fs::canonical(dir, ec);
    if (!ec && seen.insert(real).second) parents.push_back(real);
  };
  consider(root / "armorbench");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) consider(entry.path() / "armorbench");
  return parents;
}

// Kills whatever still runs in the cgroup (a container init whose runtime state was lost) and
// removes it, children first. Returns the error, empty on success.
std::string remove_cgroup(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      const std::string child_error = remove_cgroup(entry.path());
      if (!child_error.empty()) return child_error;
    }
  if (fs::exists(dir / "cgroup.kill")) std::ofstream(dir / "cgroup.kill") << "1";
  std::istringstream procs(read_whole_file(dir / "cgroup.procs"));
  for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
  // The kernel frees the cgroup only once its killed tasks have exited.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::rmdir(dir.c_str()) != 0) {
    if (errno == ENOENT) return "";
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
      return std::string("rmdir: ") + strerror(errno);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

std::string unmount_all(const fs::path& point) {
  // A point can carry several stacked mounts; detach until none is left there.
  for (int i = 0; i < 16; ++i) {
    if (::umount2(point.c_str(), MNT_DETACH) != 0)
      return errno == EINVAL || errno == ENOENT ? "" : std::string("umount: ") + strerror(errno);
  }
  return "still mounted after 16 unmounts";
}

}  // namespace

fs::path work_base() {
  const char* base = std::getenv("ARMORBENCH_WORK_DIR");
  return base && *base ? fs::path(base) : fs::path("/var/tmp");
}

unsigned long long process_start_time(pid_t pid) {
  const std::string stat = read_whole_file("/proc/" + std::to_string(pid) + "/stat");
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses; fields after the last
  // ')' are space separated, and starttime is field 22 overall (the 20th after the comm).
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field)) return 0;
  return std::stoull(field);
}

RunLease::RunLease(fs::path lease_dir, std::string run_id) : file_(lease_dir / run_id) {
  std::error_code ec;
  fs::create_directories(lease_dir, ec);
  const std::string content =
      std::to_string(::getpid()) + " " + std::to_string(process_start_time(::getpid())) + "\n";
  std::ofstream out(file_, std::ios::trunc);
  out << content;
  out.close();
  if (ec || !out)
    throw environment_error("cannot write the run lease " + file_.string() +
                            (ec ? ": " + ec.message() : std::string()));
}

RunLease::~RunLease() {
  std::error_code ec;
  fs::remove(file_, ec);
}

bool process_is_dying(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  const std::string stat = read_whole_file(proc + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return true;  // gone
  const char state = stat[close + 2];
  if (state == 'Z' || state == 'X' || state == 'x') return true;
  // SIGKILL (signal 9: bit 8) pending for the process or its main thread: it will not run
  // another instruction of its own, whatever its state reads while the kernel tears it down.
  std::istringstream status(read_whole_file(proc + "/status"));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("ShdPnd:", 0) == 0 || line.rfind("SigPnd:", 0) == 0) {
      const unsigned long long pending = std::stoull(line.substr(7), nullptr, 16);
      if (pending & (1ULL << (SIGKILL - 1))) return true;
    }
  return false;
}

bool lease_is_live(const fs::path& lease_file) {
  std::istringstream in(read_whole_file(lease_file));
  long long pid = 0;
  unsigned long long start = 0;
  if (!(in >> pid >> start) || pid <= 0) return false;
  // The same process (pid and start time), and not on its way out: a run killed a moment ago
  // can read as alive (a zombie its parent has not reaped, or a SIGKILL still being delivered).
  return start != 0 && process_start_time(static_cast<pid_t>(pid)) == start &&
         !process_is_dying(static_cast<pid_t>(pid));
}

std::vector<StaleResource> reap_stale_runs(const ReapOptions& options) {
  const std::set<std::string> live = live_run_ids(options.lease_dir);
  const auto stale = [&](const std::string& run_id) { return !live.count(run_id); };
  std::vector<StaleResource> found;
  std::vector<fs::path> bases;
  for (const fs::path& base : options.work_bases.empty()
                                  ? std::vector<fs::path>{"/var/tmp", work_base()}
                                  : options.work_bases) {
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(base, ec);
    if (!ec && std::find(bases.begin(), bases.end(), real) == bases.end()) bases.push_back(real);
  }

  // 0. Guests restored from a VM snapshot: a restore has no autodestroy, so a run killed
  // outright leaves its guest running. It keeps the snapshot's name, and whoever runs one holds
  // that name's lock: one nobody holds is a leftover. (Booted guests go with their run.)
  if (!options.libvirt_uri.empty() && ::geteuid() == 0) {
    try {
      vms::silence_libvirt_errors();
      const vms::LibvirtConnection libvirt(options.libvirt_uri);
      for (const vms::SnapshotGuestLock& orphan :
           vms::orphaned_snapshot_guests(libvirt, options.snapshot_guest_lock_dir)) {
        const std::string& name = orphan.domain_name();
        StaleResource r{"", "domain", name + " (restored from a VM snapshot)", ""};
        if (!options.dry_run) {
          try {
            libvirt.destroy_domain(name);
          } catch (const Error& e) {
            r.error = e.what();
          }
        }
        found.push_back(std::move(r));
      }
    } catch (const Error&) {  // no libvirt: no guest of ours runs there
    }
  }

  // 0b. What a snapshot build killed outright left in /run (its guest went with its connection).
  if (!options.snapshot_build_base.empty()) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options.snapshot_build_base, ec)) {
      std::smatch m;
      const std::string name = entry.path().filename().string();
      if (!std::regex_match(name, m, kSnapshotBuildDir) || entry.is_symlink()) continue;
      if (!process_is_dying(static_cast<pid_t>(std::stol(m[1].str())))) continue;
      StaleResource r{"", "dir", entry.path().string() + " (a VM snapshot build's)", ""};
      if (!options.dry_run) {
        std::error_code remove_ec;
        fs::remove_all(entry.path(), remove_ec);
        if (remove_ec) r.error = remove_ec.message();
      }
      found.push_back(std::move(r));
    }
  }

  // 1. Containers: deleting them ends their processes and their mount namespaces.
  for (const std::string& runtime : options.runtimes) {
    if (!find_executable(runtime)) continue;
    const auto list = run_command({runtime, "list", "-q"}, std::chrono::seconds(10));
    std::istringstream ids(list.out);
    for (std::string id; std::getline(ids, id);) {
      const auto run_id = run_id_of_container(id);
      if (!run_id || !stale(*run_id)) continue;
      StaleResource r{*run_id, "container", id + " (" + runtime + ")", ""};
      if (!options.dry_run) {
        const auto del = run_command({runtime, "delete", "--force", id}, std::chrono::seconds(20));
        if (!del.status.exited_ok()) r.error = del.err.empty() ? del.status.describe() : del.err;
      }
      found.push_back(std::move(r));
    }
  }

  // 2. Mounts below stale work dirs (the host-root binds), deepest first.
  std::vector<fs::path> points = mount_points();
  std::sort(points.begin(), points.end(),
            [](const fs::path& a, const fs::path& b) { return a.native() > b.native(); });
  points.erase(std::unique(points.begin(), points.end()), points.end());
  for (const fs::path& point : points) {
    const auto run_id = run_id_below(point, bases);
    if (!run_id || !stale(*run_id)) continue;
    StaleResource r{*run_id, "mount", point.string(), ""};
    if (!options.dry_run) r.error = unmount_all(point);
    found.push_back(std::move(r));
  }

  // 3. Cgroups of stale containers, in every hierarchy.
  for (const fs::path& parent : cgroup_parents(options.cgroup_root)) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
      if (!entry.is_directory(ec)) continue;
      const auto run_id = run_id_of_container(entry.path().filename().string());
      if (!run_id || !stale(*run_id)) continue;
      StaleResource r{*run_id, "cgroup", entry.path().string(), ""};
      if (!options.dry_run) r.error = remove_cgroup(entry.path());
      found.push_back(std::move(r));
    }
  }

  // 4. Work dirs (a --keep-work dir stays), then the dead runs' leases.
  for (const fs::path& base : bases) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      std::smatch m;
      const std::string name = entry.path().filename().string();
      if (!std::regex_match(name, m, kWorkDirName) || !stale(m[1].str())) continue;
      if (!entry.is_directory() || entry.is_symlink()) continue;
      if (fs::exists(entry.path() / kKeepMarker)) continue;
      // Only runs as root hold leases; another user's run (which can make no container, mount
      // or cgroup) keeps its own work dir, alive or not.
      struct stat st {};
      if (::lstat(entry.path().c_str(), &st) != 0 || st.st_uid != options.owner) continue;
      StaleResource r{m[1].str(), "dir", entry.path().string(), ""};
      if (!options.dry_run) {
        remove_tree(entry.path());
        if (fs::exists(entry.path())) r.error = "not empty after removal (a mount inside?)";
      }
      found.push_back(std::move(r));
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.lease_dir, ec)) {
    const std::string run_id = entry.path().filename().string();
    if (live.count(run_id) || !entry.is_regular_file()) continue;
    StaleResource r{run_id, "lease", entry.path().string(), ""};
    if (!options.dry_run) {
      std::error_code remove_ec;
      fs::remove(entry.path(), remove_ec);
      if (remove_ec) r.error = remove_ec.message();
    }
    found.push_back(std::move(r));
  }
  return found;
}

std::string describe(const std::vector<StaleResource>& resources, bool dry_run) {
  std::ostringstream out;
  for (const StaleResource& r : resources) {
    out << (dry_run           ? "would remove "
            : r.error.empty() ? "removed "
                              : "could not remove ")
        << r.kind << " " << r.what;
    if (!r.run_id.empty()) out << " (run " << r.run_id << ")";  // a restored guest names no run
    if (!r.error.empty()) out << ": " << r.error;
    out << "\n";
  }
  return out.str();
}

}  // namespace armorbench
