// Formatting of errors and their mapping to exit codes.
#include "armorbench/base/Error.h"

namespace armorbench {

std::string SourceLocation::str() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

std::string Error::describe() const {
  if (where_) return where_->str() + ": " + what();
  return what();
}

ExitCode exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInput:
      return ExitCode::kInvalidInput;
    case ErrorKind::kEnvironment:
    case ErrorKind::kUnsupported:
      return ExitCode::kNotEvaluated;
    case ErrorKind::kHarness:
      return ExitCode::kHarnessError;
  }
  return ExitCode::kHarnessError;
}

}  // namespace armorbench
