// Pinned enforcement of daemons, alive or dead: naming, listing, reading and releasing it.
#include "armorbench/enforcer/PinnedState.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "armorbench/base/UniqueFd.h"
#include "armorbench/enforcer/abi.h"

namespace armorbench::enforcer {
namespace fs = std::filesystem;
namespace {

struct ProcessStart {
  char state = 0;
  std::uint64_t ticks = 0;  // start time, clock ticks after boot (field 22 of /proc/PID/stat)
};

std::optional<ProcessStart> process_start(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto comm_end = stat.rfind(')');  // comm may hold spaces and parentheses
  if (comm_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(comm_end + 1));
  ProcessStart start;
  fields >> start.state;
  std::string skip;
  for (int field = 4; field < 22; ++field) fields >> skip;
  if (!(fields >> start.ticks)) return std::nullopt;
  return start;
}

UniqueFd pinned(const fs::path& path) {
  return UniqueFd(bpf_obj_get(path.c_str()));
}

// The pid namespace this process sees pids in (its inode): a pid of another one means nothing
// here.
std::string pid_namespace() {
  struct stat st {};
  return ::stat("/proc/self/ns/pid", &st) == 0 ? std::to_string(st.st_ino) : "0";
}

// A real directory, never a symbolic link to one (whatever is below it is removed).
bool plain_directory(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() == fs::file_type::directory;
}

}  // namespace

fs::path own_pin_dir(const fs::path& root) {
  const auto start = process_start("self");
  return root / (std::to_string(::getpid()) + "-" + std::to_string(start ? start->ticks : 0) + "-" +
                 pid_namespace());
}

std::vector<PinnedInstance> pinned_instances(const fs::path& root) {
  static const std::regex kName("([0-9]+)-([0-9]+)-([0-9]+)");
  std::vector<PinnedInstance> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    // Ours only: a plain directory named <pid>-<start>-<pid ns> holding our rule map.
    if (!plain_directory(entry.path()) || !std::regex_match(name, m, kName) ||
        !plain_directory(entry.path() / "maps") ||
        !fs::exists(fs::symlink_status(entry.path() / "maps" / "ab_rules", ec)))
      continue;
    PinnedInstance instance{entry.path(), static_cast<pid_t>(std::stol(m[1])), false};
    if (m[3].str() != pid_namespace()) {
      // Its daemon's pid means nothing in this namespace: it may live; never released from here.
      instance.owner_alive = true;
      instance.foreign = true;
    } else {
      // A zombie has closed its descriptors already; a reused pid has another start time.
      const auto start = process_start(m[1]);
      instance.owner_alive = start && start->state != 'Z' && start->state != 'X' &&
                             std::to_string(start->ticks) == m[2].str();
    }
    out.push_back(instance);
  }
  return out;
}

std::uint32_t pinned_generation(const fs::path& instance_dir) {
  const UniqueFd outer = pinned(instance_dir / "maps" / "ab_rules");
  if (!outer) return 0;
  const __u32 zero = 0;
  __u32 inner_id = 0;  // user space reads an array of maps as map ids
  if (bpf_map_lookup_elem(outer.get(), &zero, &inner_id) != 0) return 0;
  const UniqueFd inner(bpf_map_get_fd_by_id(inner_id));
  if (!inner) return 0;
  ab_rule_key key{};
  key.prefixlen = AB_KEY_HEADER_BITS;
  key.kind = AB_KIND_GENERATION;
  ab_rule value{};
  if (bpf_map_lookup_elem(inner.get(), &key, &value) != 0) return 0;
  return value.rule_id;
}

ReleasedInstance release_pinned(const fs::path& instance_dir,
                                const std::function<void(const Event&)>& sink) {
  ReleasedInstance released;
  released.dir = instance_dir;
  // Held across the unpinning: the maps outlive the programs for as long as these are open.
  const UniqueFd ring = pinned(instance_dir / "maps" / "ab_events");
  const UniqueFd dropped = pinned(instance_dir / "maps" / "ab_dropped");
  std::error_code ec;
  if (plain_directory(instance_dir / "links"))
    for (const auto& entry : fs::directory_iterator(instance_dir / "links", ec))
      if (::unlink(entry.path().c_str()) == 0) ++released.links;
  if (ring) {
    struct Context {
      const std::function<void(const Event&)>* sink;
      std::uint64_t* count;
    } context{&sink, &released.events};
    const auto on_event = [](void* ctx, void* data, size_t size) -> int {
      auto* c = static_cast<Context*>(ctx);
      if (size < sizeof(ab_event)) return 0;
      Event event;
      std::memcpy(&event.raw, data, sizeof event.raw);
      event.rule.id = event.raw.rule_id;
      event.rule.labels.severity = 0;  // not known: the rule table died with its daemon
      ++*c->count;
      (*c->sink)(event);
      return 0;
    };
    if (ring_buffer* rb = ring_buffer__new(ring.get(), on_event, &context, nullptr)) {
      ring_buffer__consume(rb);
      ring_buffer__free(rb);
    }
  }
  if (dropped) {
    std::vector<__u64> per_cpu(static_cast<std::size_t>(std::max(libbpf_num_possible_cpus(), 1)));
    for (__u32 slot : {0u, 1u})
      if (bpf_map_lookup_elem(dropped.get(), &slot, per_cpu.data()) == 0)
        for (__u64 v : per_cpu) released.dropped += v;
  }
  fs::remove_all(instance_dir, ec);
  return released;
}

}  // namespace armorbench::enforcer
