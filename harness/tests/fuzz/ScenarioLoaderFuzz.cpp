// libFuzzer target: the scenario loader on arbitrary bytes as a scenario file. Seeds: every
// scenario of the repository (ci/fuzz.sh); the policies they name are copied beside the input.
#include <cstddef>
#include <cstdint>

#include "armorbench/base/FuzzInput.h"
#include "armorbench/harness/ScenarioLoader.h"

// The seeds name policies/<file> beside themselves: the repository's policies go there.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::copy(
      std::filesystem::path(ARMORBENCH_SOURCE_DIR) / "scenarios/policies",
      armorbench::fuzz::scratch() / "policies",
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace armorbench;
  const auto file = fuzz::as_file(data, size, "scenario.toml");
  fuzz::expect_only_errors([&] { (void)load_scenario(file); });
  return 0;
}
