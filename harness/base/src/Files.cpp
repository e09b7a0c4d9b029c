// Small file helpers.
#include "armorbench/base/Files.h"

#include <fstream>
#include <sstream>

namespace armorbench {

std::string read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace armorbench
