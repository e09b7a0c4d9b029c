// Errors that cross component boundaries and the exit codes they map to.
// Thrown where a problem is found, caught at the CLI boundary and per case, nowhere in between.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace armorbench {

// The CLI's exit codes: a stable contract for CI scripts (README "Exit codes").
enum class ExitCode : int {
  kOk = 0,            // every gate passed
  kGateFailed = 1,    // a gate or a case expectation failed
  kHarnessError = 2,  // a fault of the harness itself
  kNotEvaluated = 3,  // a gate could not be judged: the host lacks what it needs
  kInvalidInput = 4,  // usage error or invalid scenario/policy/model input
};

// kUnsupported: what was asked cannot be done on this host or target (no bpf-lsm, no SEV-SNP, a
// sibling attacker for a VM): such a case is `not-run`, never an error and never passed.
// kEnvironment: something that should work here failed (a VM that never booted, a missing tool).
enum class ErrorKind { kInput, kEnvironment, kUnsupported, kHarness };

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  // "file:line:column", or less when parts are unknown.
  std::string str() const;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, std::optional<SourceLocation> where = {})
      : std::runtime_error(message), kind_(kind), where_(std::move(where)) {}

  ErrorKind kind() const { return kind_; }
  const std::optional<SourceLocation>& where() const { return where_; }

  // "file:line:column: message" when a location is known, else the message.
  std::string describe() const;

 private:
  ErrorKind kind_;
  std::optional<SourceLocation> where_;
};

inline Error input_error(const std::string& message, std::optional<SourceLocation> where = {}) {
  return Error(ErrorKind::kInput, message, std::move(where));
}
inline Error environment_error(const std::string& message) {
  return Error(ErrorKind::kEnvironment, message);
}
inline Error unsupported_error(const std::string& message) {
  return Error(ErrorKind::kUnsupported, message);
}
inline Error harness_error(const std::string& message) {
  return Error(ErrorKind::kHarness, message);
}

ExitCode exit_code_for(ErrorKind kind);

}  // namespace armorbench
