// Enforcer: one skeleton per hook family (exec, file, memory, net, lsm), loaded only when the
// rule set needs it, all sharing one instance of each map (the first loaded creates them, the
// others reuse their fds).
#include "armorbench/enforcer/Enforcer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

#include "armorbench/base/Error.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/enforcer/Probe.h"
#include "exec.skel.h"
#include "file.skel.h"
#include "lsm.skel.h"
#include "memory.skel.h"
#include "net.skel.h"

namespace armorbench::enforcer {
namespace {

constexpr __u32 kMaxRules = 4096;  // AB_MAX_RULES in bpf/common.bpf.h (BPF C, not includable)

constexpr const char* kSharedMaps[] = {"ab_rules",      "ab_scopes",    "ab_scope_levels",
                                       "ab_identities", "ab_protected", "ab_events",
                                       "ab_dropped",    "ab_rates",     "ab_scratch_map"};

constexpr std::size_t kMaxIdentitiesPerScope = 2048;

// openat2 with RESOLVE_IN_ROOT: `path` resolved inside the container's root, symlinks included.
int open_in_root(int root, const std::string& path, std::uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string relative = path.size() > 1 ? path.substr(1) : ".";
  return static_cast<int>(::syscall(SYS_openat2, root, relative.c_str(), &how, sizeof how));
}

using IdentityMap = std::map<std::pair<std::uint64_t, std::uint32_t>, ab_identity>;

// The inode generation of `name` under `dir_fd` (of `dir_fd` itself, an O_PATH descriptor, when
// `name` is empty), where the filesystem tells it. Only regular files and directories are opened
// for it (opening a device or a FIFO can act).
std::optional<std::uint32_t> generation_of(int dir_fd, const char* name, const struct stat& st) {
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return std::nullopt;
  constexpr int kFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  UniqueFd fd(*name ? ::openat(dir_fd, name, kFlags | O_NOFOLLOW)
                    : ::open(("/proc/self/fd/" + std::to_string(dir_fd)).c_str(), kFlags));
  int generation = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETVERSION, &generation) != 0) return std::nullopt;
  return static_cast<std::uint32_t>(generation);
}

void add_identity(IdentityMap& out, const struct stat& st, const std::string& path,
                  std::optional<std::uint32_t> generation) {
  if (path.size() >= AB_PATH_MAX) return;
  ab_identity value{};
  if (generation) {
    value.flags = AB_IDENTITY_GENERATION;
    value.generation = *generation;
  }
  std::memcpy(value.path, path.data(), path.size());
  value.depth = static_cast<__u8>(std::count(path.begin(), path.end(), '/'));
  const std::uint32_t dev = (major(st.st_dev) << 20) | minor(st.st_dev);
  out.emplace(std::make_pair(static_cast<std::uint64_t>(st.st_ino), dev), value);
}

// Every object below directory `dir_fd` (named `path`), depth first, up to the limit.
void add_tree(IdentityMap& out, int dir_fd, const std::string& path) {
  UniqueFd listing(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing) return;
  DIR* dir = ::fdopendir(::dup(listing.get()));
  if (!dir) return;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || out.size() >= kMaxIdentitiesPerScope) continue;
    struct stat st {};
    if (::fstatat(listing.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const std::string child = path + "/" + name;
    add_identity(out, st, child, generation_of(listing.get(), name.c_str(), st));
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(
          ::openat(listing.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) add_tree(out, sub.get(), child);
    }
  }
  ::closedir(dir);
}

// The identities of what the rule set's file rules name, as container `pid` sees them: each
// exact path, and each directory with everything below it.
IdentityMap identities_of(const RuleSet& rules, pid_t pid) {
  IdentityMap out;
  UniqueFd root(
      ::open(("/proc/" + std::to_string(pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return out;
  for (const RuleEntry& entry : rules.entries) {
    if (entry.key.kind != AB_KIND_FILE || entry.key.prefixlen <= AB_KEY_HEADER_BITS) continue;
    const std::size_t bytes = (entry.key.prefixlen - AB_KEY_HEADER_BITS) / 8;
    std::string path(entry.key.data, std::min<std::size_t>(bytes, sizeof entry.key.data));
    const bool directory = !path.empty() && path.back() == '/';
    while (!path.empty() && (path.back() == '\0' || path.back() == '/')) path.pop_back();
    if (path.empty() || path.front() != '/') continue;
    UniqueFd object(open_in_root(root.get(), path, O_PATH));
    struct stat st {};
    if (!object || ::fstat(object.get(), &st) != 0) continue;
    add_identity(out, st, path, generation_of(object.get(), "", st));
    if (directory && S_ISDIR(st.st_mode)) add_tree(out, object.get(), path);
  }
  return out;
}

// The level of a cgroup v2 directory in its hierarchy (the root is level 0): directories up to
// the mount's root, which is the first whose parent is not cgroup2.
int cgroup_level(const std::filesystem::path& dir) {
  int level = 0;
  std::filesystem::path at = dir.lexically_normal();
  if (at.has_filename() == false) at = at.parent_path();
  for (;;) {
    const std::filesystem::path parent = at.parent_path();
    struct statfs fs {};
    if (parent == at || ::statfs(parent.c_str(), &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
      return level;
    ++level;
    at = parent;
  }
}

std::string errno_text(int err) {
  return std::string(strerrorname_np(err) ?: "E?") + " " + strerror(err);
}

Error load_error(const std::string& what, int err) {
  return environment_error("enforcer: " + what + ": " + errno_text(err));
}

int libbpf_quiet(enum libbpf_print_level level, const char* format, va_list args) {
  // Verifier logs come with load failures; keep warnings, drop debug chatter.
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, format, args);
}

Operation operation_of(__u16 op) {
  switch (op) {
    case AB_OP_EXEC:
      return Operation::kExec;
    case AB_OP_OPEN:
      return Operation::kOpen;
    case AB_OP_CONNECT:
      return Operation::kConnect;
    case AB_OP_SENDMSG:
      return Operation::kSendmsg;
    case AB_OP_SOCKET:
      return Operation::kSocket;
    case AB_OP_PTRACE:
      return Operation::kPtrace;
    case AB_OP_VM_READ:
      return Operation::kVmRead;
    case AB_OP_PROC_MEM:
      return Operation::kProcMem;
    case AB_OP_CAPABLE:
      return Operation::kCapable;
    case AB_OP_UNLINK:
      return Operation::kUnlink;
    case AB_OP_RENAME:
      return Operation::kRename;
    case AB_OP_LINK:
      return Operation::kLink;
    case AB_OP_SETATTR:
      return Operation::kSetattr;
  }
  return Operation::kOther;
}

EventAction action_of(__u8 action) {
  switch (action) {
    case AB_ACTION_ALLOW:
      return EventAction::kAllow;
    case AB_ACTION_AUDIT:
      return EventAction::kAudit;
    case AB_ACTION_BLOCK:
      return EventAction::kBlock;
    case AB_ACTION_OBSERVE:
      return EventAction::kObserve;
  }
  return EventAction::kNone;
}

const char* protocol_name(__u32 protocol) {
  switch (protocol) {
    case AB_PROTO_TCP:
      return "tcp";
    case AB_PROTO_UDP:
      return "udp";
    case AB_PROTO_ICMP:
      return "icmp";
    case AB_PROTO_ICMPV6:
      return "icmpv6";
    case AB_PROTO_RAW:
      return "raw";
  }
  return "other";
}

const char* change_name(__u32 change) {
  switch (change) {
    case AB_CHANGE_UNLINK:
      return "unlink";
    case AB_CHANGE_RMDIR:
      return "rmdir";
    case AB_CHANGE_RENAME:
      return "rename";
    case AB_CHANGE_RENAME_TARGET:
      return "rename-target";
    case AB_CHANGE_LINK:
      return "link";
    case AB_CHANGE_LINK_TARGET:
      return "link-target";
    case AB_CHANGE_TRUNCATE:
      return "truncate";
    case AB_CHANGE_CHMOD:
      return "chmod";
    case AB_CHANGE_CHOWN:
      return "chown";
  }
  return "change";
}

std::string address_text(const ab_event& e) {
  char text[INET6_ADDRSTRLEN] = {};
  static const std::uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(e.address, v4_prefix, 12) == 0)
    inet_ntop(AF_INET, e.address + 12, text, sizeof text);
  else
    inet_ntop(AF_INET6, e.address, text, sizeof text);
  return text;
}

std::string bounded(const char* text, std::size_t size) {
  return std::string(text, strnlen(text, size));
}

template <typename Skeleton>
using SkeletonPtr = std::unique_ptr<Skeleton, void (*)(Skeleton*)>;

}  // namespace

Backend choose_backend(std::string* why) {
  std::string why_not;
  if (bpf_lsm_usable(&why_not)) {
    if (why) *why = "bpf-lsm: lsm programs load and bpf is an active LSM";
    return Backend::kBpfLsm;
  }
  if (why) *why = "tracepoint: " + why_not;
  return Backend::kTracepoint;
}

EventRecord Event::record() const {
  EventRecord e;
  e.time_boot_ns = raw.timestamp_ns;
  e.pid = raw.pid;
  e.tgid = raw.tgid;
  e.ppid = raw.ppid;
  e.uid = raw.uid;
  e.comm = bounded(raw.comm, sizeof raw.comm);
  e.exe = bounded(raw.exe, sizeof raw.exe);
  e.cgroup_id = raw.cgroup_id;
  e.operation = operation_of(raw.operation);
  e.action = action_of(raw.action);
  e.backend = raw.backend == AB_BACKEND_BPF_LSM ? Backend::kBpfLsm : Backend::kTracepoint;
  e.enforcement = raw.enforcement == AB_ENFORCE_KILL    ? Enforcement::kSigkill
                  : raw.enforcement == AB_ENFORCE_EPERM ? Enforcement::kEperm
                                                        : Enforcement::kNone;
  e.generation = raw.generation;
  e.rule_id = raw.rule_id;
  const std::string resource = bounded(raw.resource, sizeof raw.resource);
  switch (raw.operation) {
    case AB_OP_CONNECT:
    case AB_OP_SENDMSG:
      e.resource = address_text(raw) + ":" + std::to_string(raw.port);
      e.protocol = protocol_name(raw.aux);
      break;
    case AB_OP_SOCKET:
      e.resource = std::string("socket ") + protocol_name(raw.aux);
      e.protocol = protocol_name(raw.aux);
      break;
    case AB_OP_CAPABLE:
      e.resource = "capability " + std::to_string(raw.aux);
      break;
    case AB_OP_PTRACE:
    case AB_OP_VM_READ:
    case AB_OP_PROC_MEM:
      e.resource = resource.empty() ? "pid " + std::to_string(raw.target_pid) : resource;
      e.target_pid = raw.target_pid;
      e.target_cgroup_id = raw.target_cgroup_id;
      break;
    default:
      e.resource = resource;
  }
  if (raw.operation == AB_OP_OPEN) e.write = raw.aux != 0;
  if (raw.operation >= AB_OP_UNLINK && raw.operation <= AB_OP_SETATTR)
    e.change = change_name(raw.aux);
  if (raw.action != AB_ACTION_OBSERVE) {
    e.rule = rule.description;
    e.policy = rule.id == 0 ? "default-posture" : rule.policy;
    e.category = rule.category;
    e.severity = rule.labels.severity;
    e.tags = rule.labels.tags;
    e.message = rule.labels.message;
    if (!rule.where.file.empty()) e.rule_source = rule.where.str();
  }
  e.path_truncated = (raw.flags & AB_EVENT_PATH_TRUNCATED) != 0;
  e.foreign_view = (raw.flags & AB_EVENT_FOREIGN_VIEW) != 0;
  e.identity = (raw.flags & AB_EVENT_IDENTITY) != 0;
  e.unresolved = (raw.flags & AB_EVENT_UNRESOLVED) != 0;
  e.default_posture = (raw.flags & AB_EVENT_POSTURE) != 0;
  return e;
}

struct Enforcer::Impl {
  Backend backend = Backend::kTracepoint;
  SkeletonPtr<exec_bpf> exec{nullptr, exec_bpf__destroy};
  SkeletonPtr<file_bpf> file{nullptr, file_bpf__destroy};
  SkeletonPtr<memory_bpf> memory{nullptr, memory_bpf__destroy};
  SkeletonPtr<net_bpf> net{nullptr, net_bpf__destroy};
  SkeletonPtr<lsm_bpf> lsm{nullptr, lsm_bpf__destroy};
  std::map<std::string, int> shared_fds;  // map name -> fd of the instance everybody uses
  std::vector<bpf_link*> links;
  std::vector<std::string> attached;
  std::map<std::uint64_t, std::vector<bpf_link*>> cgroup_links;
  std::map<std::uint64_t, Scope> scopes;
  std::map<std::uint64_t, int> scope_levels;              // cgroup id -> its level in the hierarchy
  std::map<std::uint64_t, IdentityMap> scope_identities;  // what each scope protects by identity

  // ab_identities: the union over scopes (the same host file may be protected in several).
  void write_identities(std::uint64_t cgroup_id, IdentityMap identities) {
    const int fd = shared_fds.at("ab_identities");
    IdentityMap& old = scope_identities[cgroup_id];
    for (const auto& [key, value] : old) {
      bool shared = false;
      for (const auto& [other, map] : scope_identities)
        shared = shared || (other != cgroup_id && map.count(key));
      if (shared || identities.count(key)) continue;
      ab_identity_key k{key.first, key.second, 0};
      bpf_map_delete_elem(fd, &k);
    }
    for (const auto& [key, value] : identities) {
      ab_identity_key k{key.first, key.second, 0};
      bpf_map_update_elem(fd, &k, &value, BPF_ANY);
    }
    if (identities.empty())
      scope_identities.erase(cgroup_id);
    else
      old = std::move(identities);
  }

  // ab_scope_levels: the levels at which scoped cgroups sit (processes below them stay scoped).
  void write_scope_levels() {
    __u64 mask = 0;
    for (const auto& [id, level] : scope_levels)
      if (level >= 0 && level < 32) mask |= 1ULL << level;
    const __u32 zero = 0;
    bpf_map_update_elem(shared_fds.at("ab_scope_levels"), &zero, &mask, BPF_ANY);
  }
  ring_buffer* ring = nullptr;
  std::optional<std::filesystem::path> pin_dir;  // set by pin(): new links are pinned there too
  UniqueFd inner_rules;
  std::map<std::uint32_t, std::shared_ptr<const RuleSet>> rule_sets;  // by generation
  std::shared_ptr<const RuleSet> current;
  std::function<void(const Event&)> sink;
  EnforcerStats stats;

  ~Impl() {
    if (ring) ring_buffer__free(ring);
    for (auto& [id, links_of_cgroup] : cgroup_links)
      for (bpf_link* link : links_of_cgroup) bpf_link__destroy(link);
    for (bpf_link* link : links) bpf_link__destroy(link);
    // Skeletons are destroyed by their unique_ptrs: programs and maps go with them.
  }

  // Makes this object's shared maps the instances the first loaded object created.
  void share_maps(bpf_object* object) {
    for (const char* name : kSharedMaps) {
      bpf_map* map = bpf_object__find_map_by_name(object, name);
      if (!map) continue;
      auto it = shared_fds.find(name);
      if (it != shared_fds.end()) {
        if (int err = bpf_map__reuse_fd(map, it->second); err)
          throw load_error(std::string("reusing map ") + name, -err);
      }
    }
  }

  void remember_maps(bpf_object* object) {
    for (const char* name : kSharedMaps) {
      if (shared_fds.count(name)) continue;
      bpf_map* map = bpf_object__find_map_by_name(object, name);
      if (map) shared_fds[name] = bpf_map__fd(map);
    }
  }

  void attach(bpf_program* program, const std::string& name, bool optional = false) {
    bpf_link* link = bpf_program__attach(program);
    if (!link) {
      const int err = errno;
      if (optional) return;  // e.g. a syscall this architecture does not have
      throw load_error("attaching " + name, err);
    }
    links.push_back(link);
    attached.push_back(name);
  }

  // A rule map, created the same way for the inner-map template and for every rule set, so the
  // kernel's "meta-equal" check between them can only pass. (libbpf's own template carries the
  // object's BTF; Linux 6.1 then refuses a BTF-less rule map in ab_rules with EINVAL, because it
  // compares timer offsets: -ENOENT with value BTF, -EINVAL without. 6.18 compares BTF records.)
  static UniqueFd create_rule_map(const std::string& name) {
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
    UniqueFd map(bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name.c_str(), sizeof(ab_rule_key),
                                sizeof(ab_rule), kMaxRules, &opts));
    if (!map) throw load_error("creating the rule map", errno);
    return map;
  }

  template <typename Skeleton>
  void load(Skeleton* skeleton, int (*load_fn)(Skeleton*), const char* what) {
    share_maps(skeleton->obj);
    bpf_map* rules_map = bpf_object__find_map_by_name(skeleton->obj, "ab_rules");
    UniqueFd rule_map_template;
    if (rules_map && !shared_fds.count("ab_rules")) {
      // libbpf takes ownership of its duplicate; ours lives until the load created ab_rules.
      rule_map_template = create_rule_map("ab_rules_tmpl");
      const int libbpf_fd = ::fcntl(rule_map_template.get(), F_DUPFD_CLOEXEC, 3);
      if (int err = bpf_map__set_inner_map_fd(rules_map, libbpf_fd); err)
        throw load_error("setting the rule map template", -err);
    }
    if (int err = load_fn(skeleton); err) throw load_error(std::string("loading ") + what, -err);
    remember_maps(skeleton->obj);
  }

  void install(std::shared_ptr<const RuleSet> rules) {
    UniqueFd inner = create_rule_map("ab_rules_g" + std::to_string(rules->generation % 100000));
    for (const RuleEntry& entry : rules->entries)
      if (bpf_map_update_elem(inner.get(), &entry.key, &entry.value, BPF_ANY) != 0)
        throw load_error("filling the rule map", errno);
    const __u32 zero = 0;
    const int inner_fd = inner.get();
    // The swap: one pointer in the outer array. Programs looking up slot 0 see either map.
    if (bpf_map_update_elem(shared_fds.at("ab_rules"), &zero, &inner_fd, BPF_ANY) != 0)
      throw load_error("activating the rule map", errno);
    inner_rules = std::move(inner);  // the old map is freed once no program holds it
    rule_sets[rules->generation] = rules;
    current = std::move(rules);
    for (const auto& [id, scope] : scopes)
      if (scope.container_pid > 0)
        write_identities(id, identities_of(*current, scope.container_pid));
  }

  // Pins a link as `name` under pin_dir/links (a no-op when nothing is pinned).
  void pin_link(bpf_link* link, std::string name) {
    if (!pin_dir) return;
    std::replace(name.begin(), name.end(), '/', '_');
    const std::filesystem::path path = *pin_dir / "links" / name;
    if (int err = bpf_link__pin(link, path.c_str()); err)
      throw load_error("pinning link " + path.string(), -err);
  }

  static std::string cgroup_link_name(std::uint64_t cgroup_id, bpf_link* link) {
    bpf_link_info info{};
    __u32 size = sizeof info;
    bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &size);
    return "cgroup_" + std::to_string(cgroup_id) + "_link" + std::to_string(info.id);
  }

  static int on_event(void* context, void* data, size_t size) {
    auto* self = static_cast<Impl*>(context);
    if (size < sizeof(ab_event)) return 0;
    Event event;
    std::memcpy(&event.raw, data, sizeof event.raw);
    auto it = self->rule_sets.find(event.raw.generation);
    const RuleSet& set = it != self->rule_sets.end() ? *it->second : *self->current;
    event.rule = set.info(event.raw.rule_id);
    ++self->stats.events;
    if (self->sink) self->sink(event);
    return 0;
  }
};

std::vector<BpfObject> bpf_objects() {
  const auto image = [](const char* name, const void* (*bytes)(std::size_t*)) {
    std::size_t size = 0;
    const void* data = bytes(&size);
    return BpfObject{name, std::string_view(static_cast<const char*>(data), size)};
  };
  return {image("exec", &exec_bpf__elf_bytes), image("file", &file_bpf__elf_bytes),
          image("lsm", &lsm_bpf__elf_bytes), image("memory", &memory_bpf__elf_bytes),
          image("net", &net_bpf__elf_bytes)};
}

Enforcer::Enforcer(RuleSet rules, const EnforcerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  libbpf_set_print(libbpf_quiet);
  Impl& d = *impl_;
  d.backend = options.backend != Backend::kAuto ? options.backend : choose_backend(nullptr);
  const bool tracepoint = d.backend == Backend::kTracepoint;
  if (tracepoint && rules.has_capability_rules) {
    const RuleInfo* cap = nullptr;
    for (const RuleInfo& info : rules.rules)
      if (info.category == "capabilities") cap = &info;
    throw unsupported_error(
        (cap ? cap->where.str() + ": " : std::string()) +
        "capability rules are enforced only by the bpf-lsm backend, and this kernel refuses lsm "
        "programs (the tracepoint backend has no hook for capability checks)");
  }

  const bool need_exec = (tracepoint && rules.has_exec_rules) || options.exec_watch;
  if (need_exec) {
    d.exec.reset(exec_bpf__open());
    if (!d.exec) throw load_error("opening exec.bpf.o", errno);
    d.exec->rodata->ab_backend = tracepoint ? AB_BACKEND_TRACEPOINT : AB_BACKEND_BPF_LSM;
    d.exec->rodata->ab_enforce_exec = tracepoint && rules.has_exec_rules;
    d.load(d.exec.get(), exec_bpf__load, "exec.bpf.o");
    d.attach(d.exec->progs.ab_sched_process_exec, "tp/sched/sched_process_exec");
  }
  if (tracepoint && (rules.has_file_rules || rules.has_memory_rules)) {
    d.file.reset(file_bpf__open());
    if (!d.file) throw load_error("opening file.bpf.o", errno);
    d.file->rodata->ab_enforce_files = rules.has_file_rules;
    d.file->rodata->ab_protect_memory = rules.has_memory_rules;
    d.load(d.file.get(), file_bpf__load, "file.bpf.o");
    d.attach(d.file->progs.ab_sys_exit_openat, "tp/syscalls/sys_exit_openat");
    d.attach(d.file->progs.ab_sys_exit_openat2, "tp/syscalls/sys_exit_openat2", true);
    d.attach(d.file->progs.ab_sys_exit_open, "tp/syscalls/sys_exit_open", true);
    d.attach(d.file->progs.ab_sys_exit_creat, "tp/syscalls/sys_exit_creat", true);
    if (rules.has_file_rules) {
      // Changes to protected objects, judged at the call's entry (x86-64 has every one; other
      // architectures lack the legacy calls, hence optional).
      const std::pair<bpf_program*, const char*> changes[] = {
          {d.file->progs.ab_sys_enter_unlink, "unlink"},
          {d.file->progs.ab_sys_enter_unlinkat, "unlinkat"},
          {d.file->progs.ab_sys_enter_rmdir, "rmdir"},
          {d.file->progs.ab_sys_enter_rename, "rename"},
          {d.file->progs.ab_sys_enter_renameat, "renameat"},
          {d.file->progs.ab_sys_enter_renameat2, "renameat2"},
          {d.file->progs.ab_sys_enter_link, "link"},
          {d.file->progs.ab_sys_enter_linkat, "linkat"},
          {d.file->progs.ab_sys_enter_truncate, "truncate"},
          {d.file->progs.ab_sys_enter_ftruncate, "ftruncate"},
          {d.file->progs.ab_sys_enter_chmod, "chmod"},
          {d.file->progs.ab_sys_enter_fchmod, "fchmod"},
          {d.file->progs.ab_sys_enter_fchmodat, "fchmodat"},
          {d.file->progs.ab_sys_enter_fchmodat2, "fchmodat2"},
          {d.file->progs.ab_sys_enter_chown, "chown"},
          {d.file->progs.ab_sys_enter_lchown, "lchown"},
          {d.file->progs.ab_sys_enter_fchown, "fchown"},
          {d.file->progs.ab_sys_enter_fchownat, "fchownat"},
      };
      for (const auto& [program, call] : changes)
        d.attach(program, std::string("tp/syscalls/sys_enter_") + call,
                 std::string_view(call) != "unlinkat" && std::string_view(call) != "renameat2" &&
                     std::string_view(call) != "linkat");
    }
  }
  if (tracepoint && rules.has_memory_rules) {
    d.memory.reset(memory_bpf__open());
    if (!d.memory) throw load_error("opening memory.bpf.o", errno);
    d.load(d.memory.get(), memory_bpf__load, "memory.bpf.o");
    d.attach(d.memory->progs.ab_sys_enter_ptrace, "tp/syscalls/sys_enter_ptrace");
    d.attach(d.memory->progs.ab_sys_enter_process_vm_readv,
             "tp/syscalls/sys_enter_process_vm_readv");
    d.attach(d.memory->progs.ab_sys_enter_process_vm_writev,
             "tp/syscalls/sys_enter_process_vm_writev");
    d.attach(d.memory->progs.ab_sched_process_fork, "tp/sched/sched_process_fork");
    d.attach(d.memory->progs.ab_sched_process_free, "tp/sched/sched_process_free");
  }
  if (tracepoint && (rules.has_protocol_rules || rules.has_address_rules)) {
    d.net.reset(net_bpf__open());
    if (!d.net) throw load_error("opening net.bpf.o", errno);
    d.load(d.net.get(), net_bpf__load, "net.bpf.o");  // attached per scoped cgroup
  }
  if (!tracepoint) {
    d.lsm.reset(lsm_bpf__open());
    if (!d.lsm) throw load_error("opening lsm.bpf.o", errno);
    d.lsm->rodata->ab_backend = AB_BACKEND_BPF_LSM;
    struct Hook {
      bpf_program* program;
      bool needed;
      const char* name;
    };
    const Hook hooks[] = {
        {d.lsm->progs.ab_bprm_check_security, rules.has_exec_rules, "lsm/bprm_check_security"},
        {d.lsm->progs.ab_file_open, rules.has_file_rules, "lsm/file_open"},
        {d.lsm->progs.ab_path_unlink, rules.has_file_rules, "lsm/path_unlink"},
        {d.lsm->progs.ab_path_rmdir, rules.has_file_rules, "lsm/path_rmdir"},
        {d.lsm->progs.ab_path_rename, rules.has_file_rules, "lsm/path_rename"},
        {d.lsm->progs.ab_path_link, rules.has_file_rules, "lsm/path_link"},
        {d.lsm->progs.ab_path_truncate, rules.has_file_rules, "lsm/path_truncate"},
        // Linux 6.2+ asks file_truncate for ftruncate(2); earlier kernels path_truncate.
        {d.lsm->progs.ab_file_truncate,
         rules.has_file_rules &&
             libbpf_find_vmlinux_btf_id("bpf_lsm_file_truncate", BPF_LSM_MAC) > 0,
         "lsm/file_truncate"},
        {d.lsm->progs.ab_path_chmod, rules.has_file_rules, "lsm/path_chmod"},
        {d.lsm->progs.ab_path_chown, rules.has_file_rules, "lsm/path_chown"},
        {d.lsm->progs.ab_socket_create, rules.has_protocol_rules, "lsm/socket_create"},
        {d.lsm->progs.ab_socket_connect, rules.has_address_rules, "lsm/socket_connect"},
        {d.lsm->progs.ab_socket_sendmsg, rules.has_address_rules, "lsm/socket_sendmsg"},
        {d.lsm->progs.ab_ptrace_access_check, rules.has_memory_rules, "lsm/ptrace_access_check"},
        {d.lsm->progs.ab_capable, rules.has_capability_rules, "lsm/capable"},
    };
    for (const Hook& hook : hooks) bpf_program__set_autoload(hook.program, hook.needed);
    d.load(d.lsm.get(), lsm_bpf__load, "lsm.bpf.o");
    for (const Hook& hook : hooks)
      if (hook.needed) d.attach(hook.program, hook.name);
  }
  if (d.shared_fds.empty()) {
    // Nothing to attach (an empty policy and no watch): still a valid, inert enforcer.
    d.current = std::make_shared<const RuleSet>(std::move(rules));
    d.rule_sets[d.current->generation] = d.current;
    return;
  }
  d.install(std::make_shared<const RuleSet>(std::move(rules)));
  d.ring = ring_buffer__new(d.shared_fds.at("ab_events"), &Impl::on_event, &d, nullptr);
  if (!d.ring) throw load_error("opening the event ring buffer", errno);
}

Enforcer::~Enforcer() = default;

Backend Enforcer::backend() const {
  return impl_->backend;
}

std::vector<std::string> Enforcer::attached() const {
  std::vector<std::string> out = impl_->attached;
  for (const auto& [id, links] : impl_->cgroup_links)
    if (!links.empty() && impl_->net) {
      for (const char* name : {"cgroup/sock_create", "cgroup/connect4", "cgroup/connect6",
                               "cgroup/sendmsg4", "cgroup/sendmsg6"})
        out.push_back(std::string(name) + " (cgroup " + std::to_string(id) + ")");
    }
  return out;
}

void Enforcer::replace_rules(RuleSet rules) {
  Impl& d = *impl_;
  const bool tracepoint = d.backend == Backend::kTracepoint;
  const auto missing = [&](bool needed, bool loaded) { return needed && !loaded; };
  if (missing(tracepoint && rules.has_exec_rules, d.exec && d.exec->rodata->ab_enforce_exec) ||
      missing(tracepoint && rules.has_file_rules, d.file && d.file->rodata->ab_enforce_files) ||
      missing(tracepoint && rules.has_memory_rules, d.memory != nullptr) ||
      missing(tracepoint && (rules.has_protocol_rules || rules.has_address_rules),
              d.net != nullptr) ||
      missing(!tracepoint &&
                  (rules.has_exec_rules || rules.has_file_rules || rules.has_protocol_rules ||
                   rules.has_address_rules || rules.has_memory_rules || rules.has_capability_rules),
              d.lsm != nullptr))
    throw environment_error(
        "enforcer: the new rule set needs hooks that are not loaded; restart "
        "the enforcer with it");
  if (d.shared_fds.empty()) throw environment_error("enforcer: no programs loaded to take rules");
  d.install(std::make_shared<const RuleSet>(std::move(rules)));
}

std::uint32_t Enforcer::generation() const {
  return impl_->current ? impl_->current->generation : 0;
}

void set_view_of(Scope& scope, pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  struct stat ns {
  }, root{};
  if (::stat((proc + "/ns/mnt").c_str(), &ns) != 0)
    throw load_error("reading " + proc + "/ns/mnt", errno);
  if (::stat((proc + "/root/").c_str(), &root) != 0)
    throw load_error("reading " + proc + "/root", errno);
  scope.mnt_ns = static_cast<std::uint32_t>(ns.st_ino);
  scope.root_dev = root.st_dev;
  scope.root_ino = root.st_ino;
  scope.container_pid = pid;
}

void Enforcer::scope(const Scope& scope) {
  Impl& d = *impl_;
  if (d.shared_fds.empty()) return;
  ab_scope value{};
  value.flags = (scope.enforce ? AB_SCOPE_ENFORCE : 0) |
                (scope.watch_exec ? AB_SCOPE_WATCH_EXEC : 0) |
                (d.current->has_memory_rules && scope.enforce ? AB_SCOPE_PROTECT : 0);
  value.mnt_ns = scope.mnt_ns;
  struct stat own_ns {};
  if (scope.mnt_ns != 0 && ::stat("/proc/self/ns/mnt", &own_ns) == 0)
    value.runtime_mnt_ns = static_cast<__u32>(own_ns.st_ino);
  value.root_ino = scope.root_ino;
  value.root_dev = (major(scope.root_dev) << 20) | minor(scope.root_dev);  // the kernel's dev_t
  value.cgroup_id = scope.cgroup_id;
  if (bpf_map_update_elem(d.shared_fds.at("ab_scopes"), &scope.cgroup_id, &value, BPF_ANY) != 0)
    throw load_error("scoping cgroup " + std::to_string(scope.cgroup_id), errno);
  d.scopes[scope.cgroup_id] = scope;
  d.scope_levels[scope.cgroup_id] = cgroup_level(scope.cgroup_dir);
  d.write_scope_levels();
  if (scope.container_pid > 0 && scope.enforce)
    d.write_identities(scope.cgroup_id, identities_of(*d.current, scope.container_pid));

  if (d.net && scope.enforce) {
    UniqueFd cgroup(::open(scope.cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup) throw load_error("opening cgroup " + scope.cgroup_dir.string(), errno);
    auto& links = d.cgroup_links[scope.cgroup_id];
    for (bpf_program* program :
         {d.net->progs.ab_sock_create, d.net->progs.ab_connect4, d.net->progs.ab_connect6,
          d.net->progs.ab_sendmsg4, d.net->progs.ab_sendmsg6}) {
      bpf_link* link = bpf_program__attach_cgroup(program, cgroup.get());
      if (!link)
        throw load_error("attaching network programs to " + scope.cgroup_dir.string(), errno);
      links.push_back(link);
      d.pin_link(link, Impl::cgroup_link_name(scope.cgroup_id, link));
    }
  }
  // The tracepoint backend knows protected processes by thread id: seed the threads already in
  // the cgroup; fork tracking adds their children from here on.
  if (d.memory && (value.flags & AB_SCOPE_PROTECT)) {
    std::ifstream threads(scope.cgroup_dir / "cgroup.threads");
    __u32 tid = 0;
    while (threads >> tid)
      bpf_map_update_elem(d.shared_fds.at("ab_protected"), &tid, &scope.cgroup_id, BPF_ANY);
  }
}

void Enforcer::unscope(std::uint64_t cgroup_id) {
  Impl& d = *impl_;
  if (d.shared_fds.empty()) return;
  bpf_map_delete_elem(d.shared_fds.at("ab_scopes"), &cgroup_id);
  if (auto it = d.cgroup_links.find(cgroup_id); it != d.cgroup_links.end()) {
    for (bpf_link* link : it->second) {
      bpf_link__unpin(link);  // no-op when not pinned
      bpf_link__destroy(link);
    }
    d.cgroup_links.erase(it);
  }
  d.scopes.erase(cgroup_id);
  d.scope_levels.erase(cgroup_id);
  d.write_scope_levels();
  d.write_identities(cgroup_id, {});
  if (d.memory) {
    const int fd = d.shared_fds.at("ab_protected");
    std::vector<__u32> stale;
    __u32 key = 0, next = 0;
    __u64 value = 0;
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : &key, &next) == 0) {
      first = false;
      if (bpf_map_lookup_elem(fd, &next, &value) == 0 && value == cgroup_id) stale.push_back(next);
      key = next;
    }
    for (__u32 tid : stale) bpf_map_delete_elem(fd, &tid);
  }
}

void Enforcer::pin(const std::filesystem::path& dir) {
  Impl& d = *impl_;
  if (d.pin_dir) throw environment_error("enforcer: already pinned under " + d.pin_dir->string());
  struct statfs fs {};
  if (::statfs(dir.parent_path().c_str(), &fs) != 0 || fs.f_type != BPF_FS_MAGIC)
    throw environment_error("enforcer: " + dir.parent_path().string() +
                            " is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)");
  if (::mkdir(dir.c_str(), 0700) != 0) throw load_error("creating " + dir.string(), errno);
  d.pin_dir = dir;
  try {
    for (const std::filesystem::path& made : {dir / "links", dir / "maps"})
      if (::mkdir(made.c_str(), 0700) != 0) throw load_error("creating " + made.string(), errno);
    for (std::size_t i = 0; i < d.links.size(); ++i) d.pin_link(d.links[i], d.attached[i]);
    for (const auto& [id, links] : d.cgroup_links)
      for (bpf_link* link : links) d.pin_link(link, Impl::cgroup_link_name(id, link));
    for (const auto& [name, fd] : d.shared_fds) {
      const std::filesystem::path path = dir / "maps" / name;
      if (bpf_obj_pin(fd, path.c_str()) != 0)
        throw load_error("pinning map " + path.string(), errno);
    }
  } catch (...) {
    unpin();  // all or nothing: a half-pinned set would outlive this process half-enforcing
    throw;
  }
}

void Enforcer::unpin() {
  Impl& d = *impl_;
  if (!d.pin_dir) return;
  const std::filesystem::path dir = *std::exchange(d.pin_dir, std::nullopt);
  for (bpf_link* link : d.links) bpf_link__unpin(link);
  for (const auto& [id, links] : d.cgroup_links)
    for (bpf_link* link : links) bpf_link__unpin(link);
  // Whatever else is in there was pinned by pin() too (maps, or a link libbpf lost track of).
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

int Enforcer::poll(int timeout_ms) {
  if (!impl_->ring) return 0;
  const int n = timeout_ms > 0 ? ring_buffer__poll(impl_->ring, timeout_ms)
                               : ring_buffer__consume(impl_->ring);
  return n < 0 && n != -EINTR ? 0 : std::max(n, 0);
}

int Enforcer::event_fd() const {
  return impl_->ring ? ring_buffer__epoll_fd(impl_->ring) : -1;
}

void Enforcer::set_sink(std::function<void(const Event&)> sink) {
  impl_->sink = std::move(sink);
}

EnforcerStats Enforcer::stats() const {
  EnforcerStats stats = impl_->stats;
  auto it = impl_->shared_fds.find("ab_dropped");
  if (it != impl_->shared_fds.end()) {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<__u64> per_cpu(static_cast<std::size_t>(std::max(cpus, 1)));
    for (__u32 slot : {0u, 1u}) {
      if (bpf_map_lookup_elem(it->second, &slot, per_cpu.data()) != 0) continue;
      for (__u64 v : per_cpu) (slot == 0 ? stats.dropped : stats.rate_limited) += v;
    }
  }
  return stats;
}

}  // namespace armorbench::enforcer
