// Small file helpers.
#include "armorbench/base/Files.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "armorbench/base/Hex.h"
#include "armorbench/base/Sha256.h"

namespace armorbench {

std::string read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string resolved_path(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

std::optional<FileDigest> digest_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  Sha256 hash;
  FileDigest out;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    hash.update({reinterpret_cast<const std::uint8_t*>(chunk.data()), got});
    out.bytes += got;
  }
  if (in.bad()) return std::nullopt;
  const Sha256::Digest digest = hash.finish();
  out.sha256 = to_hex(digest);
  return out;
}

}  // namespace armorbench
