// Report writers: everything rendered from the canonical RunResults (results.json).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "armorbench/harness/Results.h"

namespace armorbench::reports {

// JUnit XML: a testsuite per scenario, a testcase per case run; a verdict that misses its
// expectation is a <failure>, an error an <error>, a not-run case <skipped> with the reason.
std::string junit_xml(const RunResults& results);

// Markdown: the summary table per target and mode, gates, and every case with its reason.
std::string summary_markdown(const RunResults& results);

// The compact table printed at the end of `armorbench run`.
std::string summary_table(const RunResults& results);

// The formats --format accepts.
const std::vector<std::string>& known_formats();

// Writes results.json plus the requested formats (json, junit, markdown) into out_dir, each
// through a temporary file and a rename.
void write_reports(const RunResults& results, const std::filesystem::path& out_dir,
                   const std::vector<std::string>& formats);

}  // namespace armorbench::reports
