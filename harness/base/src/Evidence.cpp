// Evidence as results.json records it.
#include "armorbench/base/Evidence.h"

namespace armorbench {

nlohmann::json Evidence::to_json() const {
  return {{"kind", kind}, {"summary", summary}, {"data", data}};
}

}  // namespace armorbench
