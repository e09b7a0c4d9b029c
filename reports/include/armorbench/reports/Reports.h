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

// The formats --format accepts: json, junit, markdown, html, sarif, oscal, intoto.
const std::vector<std::string>& known_formats();
// Those rendered from a results.json document alone (what `armorbench report` re-renders).
const std::vector<std::string>& document_formats();
// The file a format is written to: results.json, junit.xml, summary.md, report.html,
// results.sarif, assessment-results.json, statement.intoto.json.
std::string report_file_name(const std::string& format);

// Writes the requested formats into out_dir, each through a temporary file and a rename.
void write_reports(const RunResults& results, const std::filesystem::path& out_dir,
                   const std::vector<std::string>& formats);

// Writes the document formats (html, sarif, oscal, intoto) of a results.json document. The
// in-toto statement's subjects are the run's files found in out_dir; its configuration the
// scenario and policy files the run names, where they can be read from the working directory.
void write_document_reports(const nlohmann::json& results, const std::filesystem::path& out_dir,
                            const std::vector<std::string>& formats);

}  // namespace armorbench::reports
