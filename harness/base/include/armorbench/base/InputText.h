// Text files a user hands ArmorBench (scenarios, policies), read once and checked before any
// parser sees them: a regular file (not a directory, a FIFO a read would block on, or a link
// loop), of a bounded size, in UTF-8. What fails is an input error naming the file, and for a
// byte that is not UTF-8 its line:column.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "armorbench/base/Error.h"

namespace armorbench {

// The bytes of `file`; `what` names it in messages ("scenario file", "policy file").
std::string read_input_text(const std::filesystem::path& file, std::uintmax_t max_bytes,
                            std::string_view what);

// The offset of the first byte that does not belong to well-formed UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF included), nullopt when every byte does.
std::optional<std::size_t> invalid_utf8_offset(std::string_view text);

// file:line:column of byte `offset` of `text` (1-based; the column counts UTF-8 characters, as
// toml++ and editors do).
SourceLocation location_of_offset(const std::string& file, std::string_view text,
                                  std::size_t offset);

// "16 MiB", "9.5 MiB", "2 KiB", "1536 bytes": a size for messages.
std::string describe_size(std::uintmax_t bytes);

}  // namespace armorbench
