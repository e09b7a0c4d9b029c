// The attack kinds by name. A new kind is one file in attacks/kinds/ and one line here.
#include "KindSupport.h"

namespace armorbench::attacks {
namespace {

const std::vector<AttackKindEntry>& registry() {
  static const std::vector<AttackKindEntry> kinds{
      pickle_injection_kind(),    cryptominer_kind(), memory_dump_kind(),
      secret_exfiltration_kind(), cuda_abuse_kind(),  fork_bomb_kind(),
      memory_hog_kind(),          custom_kind(),      evasion_kind(),
      onnx_external_data_kind(),  disk_fill_kind(),   denial_of_service_kind(),
  };
  return kinds;
}

}  // namespace

std::vector<std::string> attack_kind_names() {
  std::vector<std::string> names;
  for (const AttackKindEntry& entry : registry()) names.emplace_back(entry.name);
  return names;
}

const std::vector<AttackKindInfo>& attack_kinds() {
  static const std::vector<AttackKindInfo> kinds = [] {
    std::vector<AttackKindInfo> out;
    for (const AttackKindEntry& entry : registry())
      out.push_back({entry.name, entry.summary, entry.cwe, entry.severity});
    return out;
  }();
  return kinds;
}

std::shared_ptr<const AttackDefinition> parse_attack(TomlTable& table,
                                                     const AttackParseContext& context) {
  const SourceLocation where = table.location();
  const auto kind = table.choice("kind", attack_kind_names());
  if (!kind) throw table.error_at("", "missing required key 'kind'");
  for (const AttackKindEntry& entry : registry()) {
    if (*kind != entry.name) continue;
    std::shared_ptr<AttackDefinition> definition = entry.parse(table, context);
    table.finish();
    definition->where = where;
    return definition;
  }
  throw table.error_at("kind", "unknown attack kind '" + *kind + "'");
}

}  // namespace armorbench::attacks
