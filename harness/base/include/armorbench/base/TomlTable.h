// Strict, located reading of TOML tables for scenarios and native policies.
// Every key must be known, every value must have the right type, and every error names
// file:line:column (with the closest valid key for a misspelt one).
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "armorbench/base/Error.h"

namespace armorbench {

// What a scenario or native policy may hold: beyond these it is a mistake, or an attempt to make
// the harness spend its memory or overflow its arithmetic.
constexpr std::size_t kMaxStringBytes = 64 << 10;           // any string value
constexpr std::chrono::hours kMaxDuration{24};              // timeouts, settle, boot
constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 50;  // 1 PiB: memory sizes

// Parses a TOML file, read by read_input_text (a regular UTF-8 file of at most `max_bytes`;
// `what` names it in messages); syntax errors become input errors located at file:line:column.
toml::table parse_toml_file(const std::string& path, std::uintmax_t max_bytes,
                            std::string_view what);

class TomlTable {
 public:
  // `context` names the table in messages, e.g. "case 'os-system'" or "[gate]".
  TomlTable(const toml::table& table, std::shared_ptr<const std::string> file, std::string context);

  std::optional<std::string> string(std::string_view key);
  std::string required_string(std::string_view key);
  // A string that must be one of `choices`; a wrong one is reported with the closest choice.
  std::optional<std::string> choice(std::string_view key,
                                    std::initializer_list<std::string_view> choices);
  std::optional<std::string> choice(std::string_view key, const std::vector<std::string>& choices);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<double> number(std::string_view key, double min, double max);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::vector<std::string>> strings(std::string_view key);
  std::optional<std::vector<int>> integers(std::string_view key, int min, int max);
  std::optional<std::vector<double>> numbers(std::string_view key);
  // Any value as JSON (a table of keyword arguments passed through); null when absent.
  nlohmann::json json_value(std::string_view key);
  // "250ms", "30s", "2m" or a bare number of seconds; at most kMaxDuration.
  std::optional<std::chrono::milliseconds> duration(std::string_view key);
  // "512MiB", "1GiB", "64M" or a bare number of bytes; at most kMaxSize.
  std::optional<std::uint64_t> size(std::string_view key);
  std::optional<TomlTable> table(std::string_view key);
  // An array of tables ([[key]]); empty when absent.
  std::vector<TomlTable> tables(std::string_view key);

  bool has(std::string_view key) const { return table_->contains(key); }
  SourceLocation location() const;
  SourceLocation location_of(std::string_view key) const;
  const std::string& file() const { return *file_; }
  const std::string& context() const { return context_; }

  // Throws for the first key that no accessor asked for, suggesting the closest known key.
  void finish() const;

  // An input error located at `key` (or at the table when key is empty).
  Error error_at(std::string_view key, const std::string& message) const;

 private:
  const toml::node* lookup(std::string_view key);
  Error type_error(std::string_view key, std::string_view expected) const;

  const toml::table* table_;
  std::shared_ptr<const std::string> file_;
  std::string context_;
  std::vector<std::string> known_keys_;
};

// The candidate closest to `word` by edit distance, or "" when none is plausibly meant.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// nullopt for text that is not a duration (size), or one beyond kMaxDuration (kMaxSize).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace armorbench
