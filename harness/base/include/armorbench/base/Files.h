// Small file helpers shared by every component.
#pragma once

#include <filesystem>
#include <string>

namespace armorbench {

// The whole content of a file, bytes as they are; empty when it cannot be read.
std::string read_whole_file(const std::filesystem::path& file);

}  // namespace armorbench
