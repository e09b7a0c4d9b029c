// Small file helpers shared by every component.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace armorbench {

// The whole content of a file, bytes as they are; empty when it cannot be read.
std::string read_whole_file(const std::filesystem::path& file);

// `path` with its links resolved on this host (/bin/sh -> /usr/bin/dash), as far as it exists;
// `path` itself when it cannot be resolved. Enforcers may record either form of the same file.
std::string resolved_path(const std::string& path);

// SHA-256 of a file's bytes (lowercase hex), read in chunks; nullopt when it cannot be read.
struct FileDigest {
  std::string sha256;
  std::uintmax_t bytes = 0;
};
std::optional<FileDigest> digest_file(const std::filesystem::path& file);

}  // namespace armorbench
