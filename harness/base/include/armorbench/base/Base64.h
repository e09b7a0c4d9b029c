// Base64 (RFC 4648, standard alphabet, padded): how file contents travel inside the agent
// protocol's JSON lines (planted files, read_file replies).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace armorbench {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not padded standard base64 (whitespace is not accepted either).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace armorbench
