// cgroup discovery through /proc/<pid>/cgroup and /proc/self/mountinfo.
#include "armorbench/base/CgroupStats.h"

#include <unistd.h>

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace armorbench {
namespace fs = std::filesystem;
namespace {

struct Mounts {
  std::optional<fs::path> v2;
  std::map<std::string, fs::path> v1;  // controller -> mount point
};

Mounts read_mounts() {
  Mounts mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "... mountpoint opts - fstype source superopts"
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mount_point;
    head >> id >> parent >> devno >> root >> mount_point;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, superopts;
    tail >> fstype >> source >> superopts;
    if (fstype == "cgroup2") {
      if (!mounts.v2) mounts.v2 = mount_point;
    } else if (fstype == "cgroup") {
      std::istringstream opts(superopts);
      std::string opt;
      while (std::getline(opts, opt, ','))
        if (!mounts.v1.count(opt)) mounts.v1[opt] = mount_point;
    }
  }
  return mounts;
}

std::uint64_t read_number(const fs::path& file) {
  std::ifstream in(file);
  std::uint64_t value = 0;
  in >> value;
  return value;
}

// The value of `key` in a "key value" per line file (pids.events, memory.events, cpu.stat).
std::uint64_t read_keyed(const fs::path& file, const std::string& key) {
  std::ifstream in(file);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

nlohmann::json CgroupStats::to_json() const {
  return {{"pids_max_events", pids_max_events},     {"pids_current", pids_current},
          {"memory_max_events", memory_max_events}, {"memory_oom_kills", memory_oom_kills},
          {"memory_peak_bytes", memory_peak_bytes}, {"cpu_usage_us", cpu_usage_us}};
}

CgroupStats CgroupStats::from_json(const nlohmann::json& json) {
  CgroupStats s;
  if (!json.is_object()) return s;
  s.pids_max_events = json.value("pids_max_events", 0ull);
  s.pids_current = json.value("pids_current", 0ull);
  s.memory_max_events = json.value("memory_max_events", 0ull);
  s.memory_oom_kills = json.value("memory_oom_kills", 0ull);
  s.memory_peak_bytes = json.value("memory_peak_bytes", 0ull);
  s.cpu_usage_us = json.value("cpu_usage_us", 0ull);
  return s;
}

CgroupPaths CgroupPaths::of_unified(const fs::path& directory) {
  CgroupPaths paths;
  paths.unified_ = paths.pids_ = paths.memory_ = paths.cpu_ = directory;
  paths.pids_v2_ = paths.memory_v2_ = paths.cpu_v2_ = true;
  return paths;
}

std::optional<fs::path> cgroup2_mount() {
  return read_mounts().v2;
}

void remove_cgroup_tree(const fs::path& directory) {
  std::vector<fs::path> below;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(directory, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec)) below.push_back(it->path());
  for (auto it = below.rbegin(); it != below.rend(); ++it) ::rmdir(it->c_str());
  ::rmdir(directory.c_str());
}

std::optional<CgroupPaths> CgroupPaths::of_process(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  if (!in) return std::nullopt;
  const Mounts mounts = read_mounts();
  CgroupPaths paths;
  std::string line;
  std::string v2_relative;
  std::map<std::string, std::string> v1_relative;
  while (std::getline(in, line)) {
    // "hierarchy-id:controller-list:path"
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      v2_relative = path;
      continue;
    }
    std::istringstream list(controllers);
    std::string controller;
    while (std::getline(list, controller, ',')) v1_relative[controller] = path;
  }
  auto v1 = [&](const std::string& controller) -> fs::path {
    auto mount = mounts.v1.find(controller);
    auto rel = v1_relative.find(controller);
    if (mount == mounts.v1.end() || rel == v1_relative.end()) return {};
    return mount->second / fs::path(rel->second).relative_path();
  };
  if (mounts.v2) paths.unified_ = *mounts.v2 / fs::path(v2_relative).relative_path();
  // A controller lives in v1 when a v1 hierarchy has it, else in the unified hierarchy.
  paths.pids_ = v1("pids");
  paths.memory_ = v1("memory");
  paths.cpu_ = v1("cpuacct");
  if (paths.pids_.empty()) paths.pids_ = paths.unified_, paths.pids_v2_ = true;
  if (paths.memory_.empty()) paths.memory_ = paths.unified_, paths.memory_v2_ = true;
  if (paths.cpu_.empty()) paths.cpu_ = paths.unified_, paths.cpu_v2_ = true;
  return paths;
}

std::optional<std::uint64_t> CgroupPaths::unified_id() const {
  struct stat st {};
  if (unified_.empty() || ::stat(unified_.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_ino);
}

CgroupStats CgroupPaths::read_stats() const {
  CgroupStats s;
  if (!pids_.empty()) {
    s.pids_max_events = read_keyed(pids_ / "pids.events", "max");
    s.pids_current = read_number(pids_ / "pids.current");
  }
  if (!memory_.empty()) {
    if (memory_v2_) {
      s.memory_max_events = read_keyed(memory_ / "memory.events", "max");
      s.memory_oom_kills = read_keyed(memory_ / "memory.events", "oom_kill");
      s.memory_peak_bytes = read_number(memory_ / "memory.peak");
    } else {
      s.memory_max_events = read_number(memory_ / "memory.failcnt");
      s.memory_oom_kills = read_keyed(memory_ / "memory.oom_control", "oom_kill");
      s.memory_peak_bytes = read_number(memory_ / "memory.max_usage_in_bytes");
    }
  }
  if (!cpu_.empty()) {
    s.cpu_usage_us = cpu_v2_ ? read_keyed(cpu_ / "cpu.stat", "usage_usec")
                             : read_number(cpu_ / "cpuacct.usage") / 1000;
  }
  return s;
}

}  // namespace armorbench
