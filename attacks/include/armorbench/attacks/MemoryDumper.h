// The model-theft attacker: reads another process's memory (or a core-dump file) and looks for
// the model canary. Each ReadMethod is a different door an enforcer has to close; the result
// records which door was tried and, when it was shut, the errno it was shut with.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "armorbench/attacks/ScanResult.h"

namespace armorbench::attacks {

struct ScanOptions {
  std::uint64_t max_bytes = 0;         // stop after this many bytes; 0 = no limit
  std::size_t chunk_bytes = 1u << 20;  // bytes per read syscall
};

class MemoryDumper {
 public:
  explicit MemoryDumper(ScanOptions options = {});

  // Scans every scannable region of /proc/PID/maps with `method` until the canary is found.
  // Never throws for OS errors: they end up in ScanResult::errors (and `failed`).
  ScanResult scan(pid_t pid, std::span<const std::uint8_t> canary, ReadMethod method) const;

  // Scans a file with chunked reads. For an ELF core file the match is also located in the
  // dumped address space (the PT_LOAD segment and virtual address go into `region`).
  ScanResult scan_file(const std::string& path, std::span<const std::uint8_t> canary) const;

 private:
  ScanOptions options_;
};

}  // namespace armorbench::attacks
