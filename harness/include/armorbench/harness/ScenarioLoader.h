// Reads scenario files (TOML) into validated Scenario structs.
// Syntax and semantic errors are input errors located at file:line:column.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "armorbench/harness/Scenario.h"

namespace armorbench {

// Features a case may require (`requires = [...]`); doctor probes each of them.
const std::vector<std::string>& known_features();

Scenario load_scenario(const std::filesystem::path& file);

// Every scenario named by `paths`: a file, or a directory meaning all `*.toml` in it (sorted).
std::vector<Scenario> load_scenarios(const std::vector<std::string>& paths);

// `gate` with the command line's `--gate KEY=VALUE` overrides applied (the keys and checks of a
// scenario's [gate]; errors are input errors naming --gate).
GateSpec with_gate_overrides(GateSpec gate, const std::vector<std::string>& overrides);

}  // namespace armorbench
