// One line of /proc/PID/maps and the rule for whether a memory thief would read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace armorbench::attacks {

struct MemoryRegion {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;  // 's' in the flags; 'p' is private (copy-on-write)
  std::uint64_t offset = 0;
  unsigned dev_major = 0;
  unsigned dev_minor = 0;
  std::uint64_t inode = 0;
  std::string path;  // empty for anonymous memory; "[heap]", "[stack]", a file, ...
  std::string line;  // the maps line as read, for evidence

  std::uint64_t size() const { return end - start; }

  // Whether the dump reads this region: readable, and not kernel-provided ([vvar], [vsyscall])
  // or a device mapping, where reads either fail or have side effects (GPU BARs, /dev/mem).
  // Shared mappings of regular files and shmem are read: a model mmap'ed from disk or placed in
  // shared memory is exactly what a thief wants.
  bool is_scannable() const;

  // nullopt for a line that is not a maps entry.
  static std::optional<MemoryRegion> parse(std::string_view line);
  // Every parsable line of a whole maps file.
  static std::vector<MemoryRegion> parse_all(std::string_view maps_text);
};

}  // namespace armorbench::attacks
