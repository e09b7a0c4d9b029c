// Building, caching and leasing micro-VM snapshots.
#include "armorbench/vms/GuestSnapshot.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/base/Sha256.h"
#include "armorbench/base/Subprocess.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kMeta = "snapshot.json";
constexpr const char* kRootImage = "root.ext4";
constexpr const char* kMemoryImage = "memory.save";
constexpr const char* kLease = "lease.lock";

std::int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string sha256_hex(const std::string& bytes) {
  return to_hex(
      Sha256::digest({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
}

std::string hypervisor_versions(const LibvirtConnection& connection) {
  unsigned long hypervisor = 0, library = 0;
  virConnectGetVersion(connection.get(), &hypervisor);
  virConnectGetLibVersion(connection.get(), &library);
  return "qemu " + std::to_string(hypervisor) + " libvirt " + std::to_string(library);
}

std::string new_uuid() {
  std::string hex = random_hex(16);
  hex[12] = '4';  // version 4, variant 10xx: libvirt takes any well-formed UUID
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// `path` locked with `operation` (flock, non-blocking), or an empty fd when someone else holds
// it, when it cannot be opened (its directory is gone) or when, once locked, it is no longer the
// file at `path` (pruning unlinked it meanwhile: a lock on it would guard nothing).
UniqueFd lock_file(const fs::path& path, int operation) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd || ::flock(fd.get(), operation | LOCK_NB) != 0) return UniqueFd();
  struct stat held = {};
  struct stat now = {};
  if (::fstat(fd.get(), &held) != 0 || ::stat(path.c_str(), &now) != 0 ||
      held.st_ino != now.st_ino || held.st_dev != now.st_dev)
    return UniqueFd();
  return fd;
}

// Harnesses built before the leases and name locks held `in-use.lock` in a snapshot's dir while
// a guest restored from it ran: such a snapshot (another checkout's run on the same host) is not
// pruned, and its guest is not an orphan.
bool older_harness_holds(const fs::path& snapshot_dir) {
  const fs::path old_lease = snapshot_dir / "in-use.lock";
  if (!fs::exists(old_lease)) return false;
  UniqueFd fd(::open(old_lease.c_str(), O_RDONLY | O_CLOEXEC));
  return fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0;
}

bool older_harness_runs(const std::string& domain_name) {
  const std::string prefix = domain_name.substr(std::string_view(kSnapshotDomainPrefix).size());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kDefaultSnapshotCacheDir, ec))
    if (entry.path().filename().string().starts_with(prefix) && older_harness_holds(entry.path()))
      return true;
  return false;
}

std::optional<GuestSnapshot> cached(const fs::path& dir, const std::string& key,
                                    const fs::path& guest_lock_dir) {
  if (!fs::exists(dir / kMeta) || !fs::exists(dir / kRootImage) || !fs::exists(dir / kMemoryImage))
    return std::nullopt;
  json meta = json::parse(read_whole_file(dir / kMeta), nullptr, false);
  if (meta.is_discarded() || meta.value("key", "") != key) return std::nullopt;
  GuestSnapshot snapshot;
  snapshot.key = key;
  snapshot.dir = dir;
  snapshot.saved = {snapshot_domain_name(key), dir / kMemoryImage,
                    dir / kRootImage,          meta.value("uuid", ""),
                    meta.value("cmdline", ""), meta.value("run_dir", "")};
  snapshot.meta = meta;
  snapshot.guest_lock_dir = guest_lock_dir;
  return snapshot;
}

// The directories of a build, removed on every path out of it: the snapshot's own (in the
// cache; kept by release() once complete) and the booted guest's run dir (sockets, console),
// which is short because AF_UNIX socket paths are.
class BuildDirs {
 public:
  explicit BuildDirs(fs::path dir)
      : dir_(std::move(dir)),
        run_dir_("/run/armorbench/vm-snapshot-" + std::to_string(::getpid())) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::remove_all(run_dir_, ec);
    fs::create_directories(dir_);
    fs::create_directories(run_dir_);
  }
  ~BuildDirs() {
    InterruptShield shield;
    std::error_code ec;
    fs::remove_all(run_dir_, ec);
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  BuildDirs(const BuildDirs&) = delete;
  BuildDirs& operator=(const BuildDirs&) = delete;
  const fs::path& path() const { return dir_; }
  const fs::path& run_dir() const { return run_dir_; }
  void release() { dir_.clear(); }

 private:
  fs::path dir_;
  fs::path run_dir_;
};

// The guest booted to be saved: snapshot_domain_xml() describes it with stand-ins.
GuestVmConfig snapshot_guest_config(const SnapshotSpec& spec, const std::string& name,
                                    const fs::path& run_dir, const fs::path& root_image,
                                    const std::string& uuid) {
  GuestVmConfig config;
  config.name = name;
  config.image = spec.image;
  config.run_dir = run_dir;
  config.agent = "/armorbench/armorbench-guest-agent";  // inside the root image
  config.uri = spec.uri;
  config.memory_mib = spec.memory_mib;
  config.vcpus = spec.vcpus;
  config.accel = spec.accel;
  config.boot_timeout = spec.boot_timeout;
  config.root_image = root_image;
  config.uuid = uuid;
  return config;
}

GuestSnapshot build(const fs::path& cache_dir, const SnapshotSpec& spec, const std::string& key) {
  // Built in place: the saved domain XML names the root image's path, and a snapshot is
  // complete only once its snapshot.json is written, last.
  const fs::path final_dir = cache_dir / key;
  BuildDirs work(final_dir);
  json meta = {{"key", key}, {"format", kSnapshotFormat}};

  auto start = Clock::now();
  const fs::path root_image = work.path() / kRootImage;
  const CommandResult root =
      run_command({spec.python.string(), spec.builder.string(), root_image.string(),
                   spec.python.string(), spec.warm_script.string(), spec.agent.string()},
                  std::chrono::minutes(10));
  if (!root.status.exited_ok())
    throw environment_error("build-snapshot-root.py failed (" + root.status.describe() +
                            "): " + output_tail(root.err, 3000));
  meta["root_image_ms"] = ms_since(start);
  meta["root_image_bytes"] = fs::file_size(root_image);

  // The guest booted here runs under the name restored guests of this key get (another cache
  // dir can hold a snapshot of the same key): hold its lock, so no restore destroys it, and
  // destroy a leftover of that name, which nobody else holds.
  LibvirtConnection connection(spec.uri);
  const auto guest_lock =
      SnapshotGuestLock::try_acquire(spec.guest_lock_dir, snapshot_domain_name(key));
  if (!guest_lock)
    throw environment_error("the guest " + snapshot_domain_name(key) +
                            " runs for another process (restored from a snapshot of the same "
                            "key in another cache dir): cannot build this one now");
  connection.destroy_domain(snapshot_domain_name(key));

  start = Clock::now();
  GuestVm vm(snapshot_guest_config(spec, snapshot_domain_name(key), work.run_dir(), root_image,
                                   new_uuid()));
  meta["boot_ms"] = ms_since(start);
  start = Clock::now();
  const json warm = vm.prewarm(
      spec.warm,
      std::chrono::milliseconds(static_cast<std::int64_t>(spec.warm.ready_timeout_s * 1000)));
  meta["prewarm_ms"] = ms_since(start);
  meta["warm"] = warm.value("line", json::object());
  meta["warm_pid"] = warm.value("pid", 0);
  meta["uuid"] = vm.uuid();
  meta["cmdline"] = vm.cmdline();
  meta["run_dir"] = fs::absolute(work.run_dir()).string();
  start = Clock::now();
  vm.save(work.path() / kMemoryImage);
  meta["save_ms"] = ms_since(start);
  meta["memory_image_bytes"] = fs::file_size(work.path() / kMemoryImage);
  meta["kernel_version"] = spec.image.kernel_version;
  {
    std::ofstream out(work.path() / (std::string(kMeta) + ".tmp"));
    out << meta.dump(2) << "\n";
  }
  fs::rename(work.path() / (std::string(kMeta) + ".tmp"), work.path() / kMeta);
  work.release();
  std::error_code ec;
  fs::permissions(final_dir,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  auto snapshot = cached(final_dir, key, spec.guest_lock_dir);
  if (!snapshot)
    throw harness_error("the snapshot just built in " + final_dir.string() + " is incomplete");
  snapshot->built = true;
  return *snapshot;
}

}  // namespace

std::string snapshot_domain_name(const std::string& key) {
  return std::string(kSnapshotDomainPrefix) + key.substr(0, 16);
}

std::vector<SnapshotGuestLock> orphaned_snapshot_guests(const LibvirtConnection& connection,
                                                        const fs::path& lock_dir) {
  std::vector<SnapshotGuestLock> orphans;
  for (const std::string& name : connection.domain_names()) {
    if (!name.starts_with(kSnapshotDomainPrefix)) continue;
    // Whoever runs a domain of this name (a case's restored guest, a snapshot build) holds it.
    auto lock = SnapshotGuestLock::try_acquire(lock_dir, name);
    if (lock && !older_harness_runs(name)) orphans.push_back(std::move(*lock));
  }
  return orphans;
}

std::string snapshot_domain_xml(const SnapshotSpec& spec) {
  return domain_xml(guest_domain_spec(snapshot_guest_config(
      spec, std::string(kSnapshotDomainPrefix) + "key", "/run/armorbench/build",
      "/cache/key/root.ext4", "00000000-0000-4000-8000-000000000000")));
}

std::string snapshot_key(const SnapshotSpec& spec, const SnapshotKeyInputs& inputs) {
  const json digest = {
      {"format", kSnapshotFormat},        {"root_inputs", sha256_hex(inputs.root_listing)},
      {"guest_image", spec.image.hash},   {"agent", inputs.agent_sha256},
      {"builder", inputs.builder_sha256}, {"warm_script", inputs.warm_script_sha256},
      {"warm_argv", spec.warm.argv},      {"warm_env", spec.warm.env},
      {"warm_cgroup", spec.warm.cgroup},  {"domain_xml", sha256_hex(snapshot_domain_xml(spec))},
      {"memory_mib", spec.memory_mib},    {"vcpus", spec.vcpus},
      {"accel", to_string(spec.accel)},   {"hypervisor", inputs.hypervisor}};
  return sha256_hex(digest.dump());
}

GuestSnapshot ensure_guest_snapshot(const fs::path& cache_dir, const SnapshotSpec& spec,
                                    std::size_t keep) {
  const UniqueFd lock = lock_cache_dir(cache_dir);

  const CommandResult listing =
      run_command({spec.python.string(), spec.builder.string(), "--inputs", spec.python.string(),
                   spec.warm_script.string(), spec.agent.string()},
                  std::chrono::minutes(2));
  if (!listing.status.exited_ok())
    throw environment_error("build-snapshot-root.py --inputs failed (" + listing.status.describe() +
                            "): " + output_tail(listing.err, 3000));
  const LibvirtConnection connection(spec.uri);
  const std::string key = snapshot_key(
      spec,
      {listing.out, sha256_hex(read_whole_file(spec.agent)), hypervisor_versions(connection),
       sha256_hex(read_whole_file(spec.builder)), sha256_hex(read_whole_file(spec.warm_script))});

  std::optional<GuestSnapshot> snapshot = cached(cache_dir / key, key, spec.guest_lock_dir);
  if (!snapshot) snapshot = build(cache_dir, spec, key);
  // The caller's claim, taken under the cache lock: no other process prunes it from now on.
  auto lease = SnapshotLease::try_acquire(snapshot->dir);
  if (!lease)
    throw harness_error("cannot take a lease on the snapshot " + snapshot->dir.string() +
                        " although the cache lock is held");
  snapshot->lease = std::make_shared<const SnapshotLease>(std::move(*lease));
  // Last use, for pruning.
  std::error_code ec;
  fs::last_write_time(snapshot->dir / kMeta, fs::file_time_type::clock::now(), ec);
  prune_snapshots(cache_dir, keep, key);
  return *snapshot;
}

std::vector<fs::path> prune_snapshots(const fs::path& cache_dir, std::size_t keep,
                                      const std::string& except_key) {
  std::vector<fs::path> removed;
  std::vector<std::pair<fs::file_time_type, fs::path>> snapshots;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cache_dir, ec)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    if (name == except_key) continue;
    if (!fs::exists(entry.path() / kMeta)) {
      // A build that died (the cache lock is ours: no build is running).
      fs::remove_all(entry.path(), ec);
      removed.push_back(entry.path());
      continue;
    }
    const auto used = fs::last_write_time(entry.path() / kMeta, ec);
    snapshots.emplace_back(ec ? fs::file_time_type::min() : used, entry.path());
  }
  std::sort(snapshots.begin(), snapshots.end(), [](const auto& a, const auto& b) {
    return a.first > b.first;  // most recently used first
  });
  const std::size_t others = keep > 0 && !except_key.empty() ? keep - 1 : keep;
  for (std::size_t i = others; i < snapshots.size(); ++i) {
    const fs::path& dir = snapshots[i].second;
    if (older_harness_holds(dir)) continue;
    // Held while the dir goes: a lease asked for meanwhile is refused, or sees its file gone.
    const UniqueFd lease = lock_file(dir / kLease, LOCK_EX);
    if (!lease) continue;  // someone may still restore from it
    fs::remove_all(dir, ec);
    removed.push_back(dir);
  }
  return removed;
}

std::optional<SnapshotLease> SnapshotLease::try_acquire(const fs::path& snapshot_dir) {
  UniqueFd fd = lock_file(snapshot_dir / kLease, LOCK_SH);
  // Checked once locked: pruning removes snapshot.json under its exclusive lock (a lease file
  // this open created in a dir being removed guards nothing).
  if (!fd || !fs::exists(snapshot_dir / kMeta)) return std::nullopt;
  return SnapshotLease(std::move(fd));
}

std::optional<SnapshotGuestLock> SnapshotGuestLock::try_acquire(const fs::path& lock_dir,
                                                                const std::string& domain_name) {
  std::error_code ec;
  fs::create_directories(lock_dir, ec);
  UniqueFd fd = lock_file(lock_dir / (domain_name + ".lock"), LOCK_EX);
  if (!fd) return std::nullopt;
  return SnapshotGuestLock(std::move(fd), domain_name);
}

}  // namespace armorbench::vms
