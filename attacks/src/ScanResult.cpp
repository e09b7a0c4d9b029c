// Evidence record of a memory-dump attempt and its JSON form.
#include "armorbench/attacks/ScanResult.h"

#include <cstdio>

namespace armorbench::attacks {

std::string_view to_string(ReadMethod method) {
  switch (method) {
    case ReadMethod::kProcessVmReadv:
      return "process_vm_readv";
    case ReadMethod::kProcMem:
      return "proc_mem";
    case ReadMethod::kPtrace:
      return "ptrace";
    case ReadMethod::kIoUring:
      return "io_uring";
    case ReadMethod::kFile:
      return "file";
  }
  return "unknown";
}

std::optional<ReadMethod> read_method_from_string(std::string_view name) {
  for (auto method : {ReadMethod::kProcessVmReadv, ReadMethod::kProcMem, ReadMethod::kPtrace,
                      ReadMethod::kIoUring, ReadMethod::kFile}) {
    if (to_string(method) == name) return method;
  }
  return std::nullopt;
}

ScanOutcome ScanResult::outcome() const {
  // A match is a theft even if something failed afterwards; a failure makes "not found"
  // inconclusive, which the caller must not read as "nothing to steal".
  if (found) return ScanOutcome::kFound;
  if (failed) return ScanOutcome::kFailed;
  return ScanOutcome::kNotFound;
}

void ScanResult::add_error(std::string stage, int error_number, std::string message) {
  if (stage == "read") {
    for (auto& existing : errors) {
      if (existing.stage == stage && existing.error_number == error_number) {
        ++existing.count;
        return;
      }
    }
  }
  errors.push_back({std::move(stage), error_number, std::move(message), 1});
}

nlohmann::json ScanResult::to_json() const {
  auto hex = [](std::uint64_t value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
    return std::string(buf);
  };
  nlohmann::json out;
  out["method"] = to_string(method);
  if (method == ReadMethod::kFile) {
    out["file"] = file;
  } else {
    out["pid"] = pid;
  }
  out["found"] = found;
  out["address"] = found ? nlohmann::json(hex(address)) : nlohmann::json(nullptr);
  out["region"] = found ? nlohmann::json(region) : nlohmann::json(nullptr);
  out["bytes_scanned"] = bytes_scanned;
  out["bytes_unreadable"] = bytes_unreadable;
  out["regions_scanned"] = regions_scanned;
  out["regions_total"] = regions_total;
  out["truncated"] = truncated;
  out["elapsed_ms"] = elapsed_ms;
  out["outcome"] = found ? "found" : (failed ? "failed" : "not_found");
  auto& errs = out["errors"] = nlohmann::json::array();
  for (const auto& e : errors) {
    errs.push_back({{"stage", e.stage},
                    {"errno", e.error_number},
                    {"message", e.message},
                    {"count", e.count}});
  }
  return out;
}

}  // namespace armorbench::attacks
