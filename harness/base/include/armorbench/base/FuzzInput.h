// What the libFuzzer targets share (built with -DARMORBENCH_FUZZ=ON, README "Fuzzing"): the input
// as a file where the code under test reads files, and the one rule every target checks: bad
// input may only end in an armorbench::Error (a located message, exit 4); any other exception
// is a finding, reported by aborting so libFuzzer keeps the input.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "armorbench/base/Error.h"

namespace armorbench::fuzz {

// A scratch directory of this fuzzing process (mkdtemp; removed at exit). Allocated once and
// never destroyed, so the exit handler never reads a destroyed path.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path* dir = [] {
    std::string name = (std::filesystem::temp_directory_path() / "ab-fuzz-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) std::abort();
    auto* path = new std::filesystem::path(name);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch(), ec);
    });
    return path;
  }();
  return *dir;
}

inline std::filesystem::path as_file(const std::uint8_t* data, std::size_t size,
                                     const std::string& name) {
  const std::filesystem::path file = scratch() / name;
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return file;
}

// Runs `body`; an armorbench::Error is the expected end of bad input, anything else aborts.
template <typename Body>
void expect_only_errors(Body&& body) {
  try {
    body();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an exception other than armorbench::Error escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace armorbench::fuzz
