// Parsing of /proc/PID/maps lines.
#include "armorbench/attacks/MemoryRegion.h"

#include <charconv>

namespace armorbench::attacks {
namespace {

// Consumes one field of `text` up to `sep` and parses it as hex.
bool take_hex(std::string_view& text, char sep, std::uint64_t& value) {
  const auto stop = text.find(sep);
  if (stop == std::string_view::npos || stop == 0) return false;
  const auto field = text.substr(0, stop);
  const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value, 16);
  if (ec != std::errc() || ptr != field.data() + field.size()) return false;
  text.remove_prefix(stop + 1);
  return true;
}

bool take_dec(std::string_view& text, char sep, std::uint64_t& value) {
  const auto stop = text.find(sep);
  const auto field = text.substr(0, stop);
  const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value, 10);
  if (ec != std::errc() || ptr != field.data() + field.size() || field.empty()) return false;
  text.remove_prefix(stop == std::string_view::npos ? text.size() : stop + 1);
  return true;
}

}  // namespace

bool MemoryRegion::is_scannable() const {
  if (!readable || end <= start) return false;
  if (path == "[vvar]" || path == "[vvar_vclock]" || path == "[vsyscall]") return false;
  // /dev/shm and /dev/zero-backed mappings are plain memory; any other /dev node is a device.
  if (path.starts_with("/dev/") && !path.starts_with("/dev/shm/") &&
      !path.starts_with("/dev/zero")) {
    return false;
  }
  return true;
}

std::optional<MemoryRegion> MemoryRegion::parse(std::string_view line) {
  // Format: "start-end perms offset major:minor inode    path", path optional and may contain
  // spaces (and " (deleted)").
  MemoryRegion region;
  region.line = std::string(line);
  std::string_view rest = line;
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  if (!take_hex(rest, '-', region.start) || !take_hex(rest, ' ', region.end)) return std::nullopt;
  if (rest.size() < 5 || rest[4] != ' ') return std::nullopt;
  region.readable = rest[0] == 'r';
  region.writable = rest[1] == 'w';
  region.executable = rest[2] == 'x';
  region.shared = rest[3] == 's';
  rest.remove_prefix(5);
  if (!take_hex(rest, ' ', region.offset) || !take_hex(rest, ':', major) ||
      !take_hex(rest, ' ', minor) || !take_dec(rest, ' ', region.inode)) {
    return std::nullopt;
  }
  region.dev_major = static_cast<unsigned>(major);
  region.dev_minor = static_cast<unsigned>(minor);
  const auto path_start = rest.find_first_not_of(' ');
  if (path_start != std::string_view::npos) region.path = std::string(rest.substr(path_start));
  return region;
}

std::vector<MemoryRegion> MemoryRegion::parse_all(std::string_view maps_text) {
  std::vector<MemoryRegion> regions;
  while (!maps_text.empty()) {
    const auto nl = maps_text.find('\n');
    const auto line = maps_text.substr(0, nl);
    if (auto region = parse(line)) regions.push_back(std::move(*region));
    if (nl == std::string_view::npos) break;
    maps_text.remove_prefix(nl + 1);
  }
  return regions;
}

}  // namespace armorbench::attacks
