// libFuzzer target: a policy loader (KubeArmorPolicy YAML, or ArmorBench's TOML policies, by
// ARMORBENCH_POLICY_SUFFIX) and the compiler to BPF rules, on arbitrary bytes as a policy file.
#include <cstddef>
#include <cstdint>

#include "armorbench/base/FuzzInput.h"
#include "armorbench/enforcer/RuleSet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace armorbench;
  const auto file = fuzz::as_file(data, size, std::string("policy") + ARMORBENCH_POLICY_SUFFIX);
  fuzz::expect_only_errors(
      [&] { (void)enforcer::compile_policy_files({file}, enforcer::PolicyFileOptions{}); });
  return 0;
}
