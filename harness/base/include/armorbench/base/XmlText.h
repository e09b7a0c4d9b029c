// XML text and attribute escaping, for the XML the components write by hand (JUnit reports,
// libvirt domain definitions).
#pragma once

#include <string>
#include <string_view>

namespace armorbench {

// Escapes the five XML special characters; control characters XML 1.0 forbids even escaped
// (all below 0x20 but tab, newline, carriage return) become '?'.
std::string xml_escape(std::string_view text);

}  // namespace armorbench
