// libFuzzer target: the host <-> guest-agent protocol's line parser and the start request's
// validation (what the agent trusts), on arbitrary bytes as one line.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "armorbench/base/FuzzInput.h"
#include "armorbench/vms/AgentProtocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace armorbench;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    const nlohmann::json message = vms::parse_line(line);
    (void)vms::message_id(message);
    const vms::StartRequest start = vms::decode_start(message);
    // What decodes must encode and decode to the same request.
    const vms::StartRequest again = vms::decode_start(vms::encode_start(start));
    if (again.workload.argv != start.workload.argv) std::abort();
  });
  return 0;
}
