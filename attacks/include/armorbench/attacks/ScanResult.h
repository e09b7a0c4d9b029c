// What one memory-dump attempt observed: the evidence record that armorbench-memdump prints and
// the harness turns into an Observation. Errors keep their errno so that "blocked by the
// enforcer" (EPERM at attach) is distinguishable from "nothing to find".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace armorbench::attacks {

// How the dumper reads another process's memory; each is a separate thing an enforcer can deny.
enum class ReadMethod {
  kProcessVmReadv,  // process_vm_readv(2): no fd, no stop of the target
  kProcMem,         // pread(2) on /proc/PID/mem
  kPtrace,          // PTRACE_SEIZE + PTRACE_INTERRUPT every thread, read /proc/PID/mem, detach
  kIoUring,         // IORING_OP_OPENAT/READ of /proc/PID/mem: no open(2), read(2) syscalls
  kFile,            // a file such as a libvirt core dump: the theft already happened on disk
};

std::string_view to_string(ReadMethod method);
std::optional<ReadMethod> read_method_from_string(std::string_view name);

struct ScanError {
  std::string stage;  // io_uring_setup | open_maps | open_mem | ptrace | read | open_file
  int error_number = 0;
  std::string message;
  std::uint64_t count = 1;  // read errors are folded per errno: how many ranges failed
};

// Process exit codes of armorbench-memdump.
enum class ScanOutcome : int { kFound = 0, kNotFound = 1, kFailed = 2 };

struct ScanResult {
  ReadMethod method = ReadMethod::kProcessVmReadv;
  pid_t pid = 0;     // 0 for a file scan
  std::string file;  // the scanned file, for a file scan
  bool found = false;
  std::uint64_t address = 0;  // virtual address (process) or file offset (file)
  std::string region;         // maps line, or ELF segment description for a core file
  std::uint64_t bytes_scanned = 0;
  std::uint64_t bytes_unreadable = 0;  // inside scannable regions, skipped after EFAULT/EIO
  std::uint64_t regions_scanned = 0;
  std::uint64_t regions_total = 0;  // all maps lines, scannable or not
  bool truncated = false;           // stopped at --max-bytes before finishing
  bool failed = false;              // a fatal error: denied, target gone, unreadable maps
  double elapsed_ms = 0;
  std::vector<ScanError> errors;

  ScanOutcome outcome() const;
  // Adds an error, folding repeated read errors with the same errno into one entry.
  void add_error(std::string stage, int error_number, std::string message);
  nlohmann::json to_json() const;
};

}  // namespace armorbench::attacks
