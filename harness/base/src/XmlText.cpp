// XML escaping shared by the report writers and the domain XML generator.
#include "armorbench/base/XmlText.h"

namespace armorbench {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        out += byte < 0x20 && c != '\n' && c != '\t' && c != '\r' ? '?' : c;
      }
    }
  }
  return out;
}

}  // namespace armorbench
