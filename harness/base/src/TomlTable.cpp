// Implementation of strict TOML table reading with source locations.
#include "armorbench/base/TomlTable.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "armorbench/base/InputText.h"

namespace armorbench {
namespace {

constexpr double kMaxDurationMs = std::chrono::duration<double, std::milli>(kMaxDuration).count();

SourceLocation make_location(const std::string& file, const toml::source_region& region) {
  return SourceLocation{file, static_cast<int>(region.begin.line),
                        static_cast<int>(region.begin.column)};
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date/time";
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A user's text in a message: at most 80 characters of it.
std::string excerpt(std::string_view text) {
  if (text.size() <= 80) return std::string(text);
  std::size_t cut = 77;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

// Splits "512MiB" into 512 and "MiB"; false when there is no leading number.
bool split_number_unit(std::string_view text, double& number, std::string_view& unit) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc() || ptr == begin) return false;
  unit = std::string_view(ptr, static_cast<std::size_t>(end - ptr));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return std::isfinite(number) && number >= 0;
}

// Milliseconds of "250ms", "30s", "2m", "1h" or bare seconds, however many; nullopt when the text
// is none of these.
std::optional<double> duration_ms(std::string_view text) {
  double number = 0;
  std::string_view unit;
  if (!split_number_unit(text, number, unit)) return std::nullopt;
  double factor_ms = 0;
  if (unit == "ms")
    factor_ms = 1;
  else if (unit == "s" || unit.empty())
    factor_ms = 1000;
  else if (unit == "m" || unit == "min")
    factor_ms = 60'000;
  else if (unit == "h")
    factor_ms = 3'600'000;
  else
    return std::nullopt;
  return number * factor_ms;
}

// Bytes of "512MiB", "1GiB", "64M" or a bare number, however many; nullopt when the text is none
// of these.
std::optional<double> size_bytes(std::string_view text) {
  double number = 0;
  std::string_view unit;
  if (!split_number_unit(text, number, unit)) return std::nullopt;
  double factor = 0;
  if (unit.empty() || unit == "B")
    factor = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k")
    factor = 1024.0;
  else if (unit == "MiB" || unit == "M")
    factor = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G")
    factor = 1024.0 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB")
    factor = 1e3;
  else if (unit == "MB")
    factor = 1e6;
  else if (unit == "GB")
    factor = 1e9;
  else
    return std::nullopt;
  return number * factor;
}

}  // namespace

toml::table parse_toml_file(const std::string& path, std::uintmax_t max_bytes,
                            std::string_view what) {
  const std::string content = read_input_text(path, max_bytes, what);
  try {
    return toml::parse(content, path);
  } catch (const toml::parse_error& e) {
    throw input_error("TOML syntax error: " + std::string(e.description()),
                      make_location(path, e.source()));
  }
}

TomlTable::TomlTable(const toml::table& table, std::shared_ptr<const std::string> file,
                     std::string context)
    : table_(&table), file_(std::move(file)), context_(std::move(context)) {}

const toml::node* TomlTable::lookup(std::string_view key) {
  if (std::find(known_keys_.begin(), known_keys_.end(), key) == known_keys_.end())
    known_keys_.emplace_back(key);
  return table_->get(key);
}

SourceLocation TomlTable::location() const {
  return make_location(*file_, table_->source());
}

SourceLocation TomlTable::location_of(std::string_view key) const {
  if (const toml::node* node = table_->get(key)) return make_location(*file_, node->source());
  return location();
}

Error TomlTable::error_at(std::string_view key, const std::string& message) const {
  return input_error(context_.empty() ? message : context_ + ": " + message,
                     key.empty() ? location() : location_of(key));
}

Error TomlTable::type_error(std::string_view key, std::string_view expected) const {
  const toml::node* node = table_->get(key);
  return error_at(key, "'" + std::string(key) + "' must be " + std::string(expected) + ", not " +
                           (node ? type_name(*node) : std::string("missing")));
}

std::optional<std::string> TomlTable::string(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  if (!node->is_string()) throw type_error(key, "a string");
  std::string value = *node->value<std::string>();
  if (value.size() > kMaxStringBytes)
    throw error_at(key, "'" + std::string(key) + "' is a string of " + describe_size(value.size()) +
                            ", longer than the " + describe_size(kMaxStringBytes) +
                            " a string may hold");
  return value;
}

std::string TomlTable::required_string(std::string_view key) {
  auto value = string(key);
  if (!value) throw error_at("", "missing required key '" + std::string(key) + "'");
  if (value->empty()) throw error_at(key, "'" + std::string(key) + "' must not be empty");
  return *value;
}

std::optional<std::string> TomlTable::choice(std::string_view key,
                                             std::initializer_list<std::string_view> choices) {
  return choice(key, std::vector<std::string>(choices.begin(), choices.end()));
}

std::optional<std::string> TomlTable::choice(std::string_view key,
                                             const std::vector<std::string>& options) {
  auto value = string(key);
  if (!value) return std::nullopt;
  if (std::find(options.begin(), options.end(), *value) != options.end()) return value;
  std::string list;
  for (const auto& option : options) list += (list.empty() ? "" : ", ") + option;
  std::string message =
      "unknown " + std::string(key) + " '" + excerpt(*value) + "' (valid: " + list + ")";
  const std::string suggestion = closest_match(*value, options);
  if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
  throw error_at(key, message);
}

std::optional<std::int64_t> TomlTable::integer(std::string_view key, std::int64_t min,
                                               std::int64_t max) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  if (!node->is_integer()) throw type_error(key, "an integer");
  const std::int64_t value = *node->value<std::int64_t>();
  if (value < min || value > max)
    throw error_at(key, "'" + std::string(key) + "' = " + std::to_string(value) +
                            " is out of range [" + std::to_string(min) + ", " +
                            std::to_string(max) + "]");
  return value;
}

std::optional<double> TomlTable::number(std::string_view key, double min, double max) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  if (!node->is_number()) throw type_error(key, "a number");
  const double value = *node->value<double>();
  if (!(value >= min && value <= max)) {
    char text[128];
    std::snprintf(text, sizeof text, "' = %g is out of range [%g, %g]", value, min, max);
    throw error_at(key, "'" + std::string(key) + text);
  }
  return value;
}

std::optional<bool> TomlTable::boolean(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) throw type_error(key, "a boolean");
  return node->value<bool>();
}

std::optional<std::vector<std::string>> TomlTable::strings(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  if (!array) throw type_error(key, "an array of strings");
  std::vector<std::string> out;
  for (const toml::node& element : *array) {
    if (!element.is_string())
      throw input_error(context_ + ": every element of '" + std::string(key) +
                            "' must be a string, not " + type_name(element),
                        make_location(*file_, element.source()));
    out.push_back(*element.value<std::string>());
    if (out.back().size() > kMaxStringBytes)
      throw input_error(context_ + ": an element of '" + std::string(key) + "' is a string of " +
                            describe_size(out.back().size()) + ", longer than the " +
                            describe_size(kMaxStringBytes) + " a string may hold",
                        make_location(*file_, element.source()));
  }
  return out;
}

std::optional<std::vector<int>> TomlTable::integers(std::string_view key, int min, int max) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  if (!array) throw type_error(key, "an array of integers");
  std::vector<int> out;
  for (const toml::node& element : *array) {
    const auto value = element.value<std::int64_t>();
    if (!element.is_integer() || *value < min || *value > max)
      throw input_error(context_ + ": every element of '" + std::string(key) +
                            "' must be an integer in [" + std::to_string(min) + ", " +
                            std::to_string(max) + "]",
                        make_location(*file_, element.source()));
    out.push_back(static_cast<int>(*value));
  }
  return out;
}

std::optional<std::vector<double>> TomlTable::numbers(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  if (!array) throw type_error(key, "an array of numbers");
  std::vector<double> out;
  for (const toml::node& element : *array) {
    if (!element.is_number())
      throw input_error(context_ + ": every element of '" + std::string(key) + "' must be a number",
                        make_location(*file_, element.source()));
    out.push_back(*element.value<double>());
  }
  return out;
}

nlohmann::json TomlTable::json_value(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return nullptr;
  std::ostringstream text;
  node->visit([&](const auto& value) {
    if constexpr (toml::is_table<decltype(value)> || toml::is_array<decltype(value)>)
      text << toml::json_formatter{value};
    else
      text << toml::json_formatter{toml::array{value}};
  });
  nlohmann::json parsed = nlohmann::json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded()) throw type_error(key, "a value JSON can carry");
  if (!node->is_table() && !node->is_array()) parsed = parsed[0];
  return parsed;
}

std::optional<std::chrono::milliseconds> TomlTable::duration(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  std::optional<double> ms;
  std::string written;
  if (node->is_number()) {
    const double seconds = *node->value<double>();
    if (std::isnan(seconds))
      throw error_at(key, "'" + std::string(key) + "' = nan is not a number of seconds");
    if (seconds < 0) throw error_at(key, "'" + std::string(key) + "' must not be negative");
    ms = seconds * 1000;
    std::ostringstream text;
    text << seconds;
    written = text.str();
  } else if (node->is_string()) {
    written = "\"" + excerpt(*node->value<std::string>()) + "\"";
    ms = duration_ms(*node->value<std::string>());
    if (!ms)
      throw error_at(key, "'" + std::string(key) + "' = " + written +
                              " is not a duration (use e.g. \"250ms\", \"30s\", \"2m\")");
  } else {
    throw type_error(key, "a duration such as \"30s\"");
  }
  // Past a day it is a mistake, and it would overflow the clock arithmetic of the waits.
  if (!(*ms <= kMaxDurationMs))
    throw error_at(key, "'" + std::string(key) + "' = " + written + " is longer than " +
                            std::to_string(kMaxDuration.count()) +
                            "h, the longest wait a scenario may set");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*ms)));
}

std::optional<std::uint64_t> TomlTable::size(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  std::optional<double> bytes;
  std::string written;
  if (node->is_integer()) {
    const std::int64_t value = *node->value<std::int64_t>();
    if (value < 0) throw error_at(key, "'" + std::string(key) + "' must not be negative");
    bytes = static_cast<double>(value);
    written = std::to_string(value);
  } else if (node->is_string()) {
    written = "\"" + excerpt(*node->value<std::string>()) + "\"";
    bytes = size_bytes(*node->value<std::string>());
    if (!bytes)
      throw error_at(key, "'" + std::string(key) + "' = " + written +
                              " is not a size (use e.g. \"512MiB\", \"1GiB\", or bytes)");
  } else {
    throw type_error(key, "a size such as \"512MiB\"");
  }
  if (!(*bytes <= static_cast<double>(kMaxSize)))
    throw error_at(key, "'" + std::string(key) + "' = " + written + " is larger than " +
                            describe_size(kMaxSize) + ", the largest size a scenario may set");
  return static_cast<std::uint64_t>(std::llround(*bytes));
}

std::optional<TomlTable> TomlTable::table(std::string_view key) {
  const toml::node* node = lookup(key);
  if (!node) return std::nullopt;
  const toml::table* sub = node->as_table();
  if (!sub) throw type_error(key, "a table");
  return TomlTable(
      *sub, file_,
      context_.empty() ? "[" + std::string(key) + "]" : context_ + "." + std::string(key));
}

std::vector<TomlTable> TomlTable::tables(std::string_view key) {
  const toml::node* node = lookup(key);
  std::vector<TomlTable> out;
  if (!node) return out;
  const toml::array* array = node->as_array();
  if (!array) throw type_error(key, "an array of tables ([[" + std::string(key) + "]])");
  std::size_t index = 0;
  for (const toml::node& element : *array) {
    const toml::table* sub = element.as_table();
    if (!sub)
      throw input_error(context_ + ": every element of '" + std::string(key) +
                            "' must be a table, not " + type_name(element),
                        make_location(*file_, element.source()));
    out.emplace_back(*sub, file_, std::string(key) + "[" + std::to_string(index++) + "]");
  }
  return out;
}

void TomlTable::finish() const {
  for (auto&& [key, node] : *table_) {
    const std::string name(key.str());
    if (std::find(known_keys_.begin(), known_keys_.end(), name) != known_keys_.end()) continue;
    std::string message = "unknown key '" + excerpt(name) + "'";
    const std::string suggestion = closest_match(name, known_keys_);
    if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
    throw input_error(context_.empty() ? message : context_ + ": " + message,
                      make_location(*file_, key.source()));
  }
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // Suggest only plausible typos: at most a third of the word may differ.
  const std::size_t budget = std::max<std::size_t>(2, word.size() / 3);
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& candidate : candidates) {
    const std::size_t gap = word.size() > candidate.size() ? word.size() - candidate.size()
                                                           : candidate.size() - word.size();
    if (gap > budget) continue;  // too far apart to be a typo, however long the word
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best_distance <= budget ? best : std::string();
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto ms = duration_ms(text);
  if (!ms || !(*ms <= kMaxDurationMs)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*ms)));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const auto bytes = size_bytes(text);
  if (!bytes || !(*bytes <= static_cast<double>(kMaxSize))) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(*bytes));
}

}  // namespace armorbench
