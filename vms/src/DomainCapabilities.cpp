// Domain capability parsing (Boost.PropertyTree's XML reader) and the libvirt host probe.
#include "armorbench/vms/DomainCapabilities.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>
#include <stdexcept>

#include "armorbench/base/Error.h"
#include "armorbench/vms/LibvirtConnection.h"

namespace armorbench::vms {
namespace pt = boost::property_tree;
namespace {

bool supported_attr(const pt::ptree& node) {
  return node.get<std::string>("<xmlattr>.supported", "no") == "yes";
}

std::string to_xml(const std::string& name, const pt::ptree& node) {
  pt::ptree wrapper;
  wrapper.add_child(name, node);
  std::ostringstream out;
  pt::write_xml(out, wrapper);
  std::string text = out.str();
  if (auto decl = text.find("?>"); decl != std::string::npos) text.erase(0, decl + 2);
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) text.erase(0, 1);
  return text;
}

std::string version_text(unsigned long v) {
  return std::to_string(v / 1000000) + "." + std::to_string((v / 1000) % 1000) + "." +
         std::to_string(v % 1000);
}

}  // namespace

bool DomainCapabilities::supports(const std::string& launch_security) const {
  if (launch_security == "sev") return sev;
  if (launch_security == "sev-snp") return sev_snp;
  if (launch_security == "tdx") return tdx;
  return false;
}

std::string DomainCapabilities::evidence_for(const std::string& launch_security) const {
  // Mentioned as an element (<tdx ...>, <sev-snp ...>) or as a launchSecurity sectype value.
  const bool mentioned = evidence.find("<" + launch_security + " ") != std::string::npos ||
                         evidence.find("<" + launch_security + ">") != std::string::npos ||
                         evidence.find("<" + launch_security + "/>") != std::string::npos ||
                         evidence.find(">" + launch_security + "<") != std::string::npos;
  if (mentioned || launch_security == "sev") return evidence;
  return "no " + launch_security + " in <features> (" + evidence + ")";
}

DomainCapabilities parse_domain_capabilities(const std::string& xml) {
  pt::ptree tree;
  std::istringstream in(xml);
  try {
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& e) {
    throw std::runtime_error(std::string("domain capabilities are not XML: ") + e.what());
  }
  const auto root = tree.get_child_optional("domainCapabilities");
  if (!root) throw std::runtime_error("not a <domainCapabilities> document");

  DomainCapabilities caps;
  const auto features = root->get_child_optional("features");
  if (!features) {
    caps.evidence = "<features> absent from domain capabilities";
    return caps;
  }
  for (const auto& [name, node] : *features) {
    if (name == "sev") {
      caps.sev = supported_attr(node);
      caps.evidence += to_xml(name, node);
    } else if (name == "sev-snp" || name == "snp") {
      caps.sev_snp = supported_attr(node);
      caps.evidence += to_xml(name, node);
    } else if (name == "tdx") {
      caps.tdx = supported_attr(node);
      caps.evidence += to_xml(name, node);
    } else if (name == "launchSecurity") {
      // Newer libvirt lists the types it can launch: <enum name='sectype'><value>tdx</value>...
      caps.evidence += to_xml(name, node);
      if (!supported_attr(node)) continue;
      for (const auto& [child_name, child] : node) {
        if (child_name != "enum" || child.get<std::string>("<xmlattr>.name", "") != "sectype")
          continue;
        for (const auto& [value_name, value] : child) {
          if (value_name != "value") continue;
          const std::string type = value.get_value<std::string>();
          if (type == "sev") caps.sev = true;
          if (type == "sev-snp") caps.sev_snp = true;
          if (type == "tdx") caps.tdx = true;
        }
      }
    }
  }
  if (caps.evidence.empty())
    caps.evidence = "no sev, sev-snp, tdx or launchSecurity element in <features>";
  return caps;
}

LibvirtProbe probe_libvirt(const std::string& uri) {
  LibvirtProbe probe;
  probe.kvm_device = ::access("/dev/kvm", R_OK | W_OK) == 0;
  std::optional<LibvirtConnection> connection;
  try {
    connection.emplace(uri);
  } catch (const Error& e) {
    probe.error = e.what();
    return probe;
  }
  probe.reachable = true;
  unsigned long version = 0;
  if (virConnectGetLibVersion(connection->get(), &version) == 0)
    probe.libvirt_version = version_text(version);
  if (virConnectGetVersion(connection->get(), &version) == 0)
    probe.hypervisor_version =
        std::string(virConnectGetType(connection->get())) + " " + version_text(version);
  char* xml =
      virConnectGetDomainCapabilities(connection->get(), nullptr, nullptr, nullptr, "qemu", 0);
  if (xml) {
    probe.capabilities_xml = xml;
    try {
      probe.capabilities = parse_domain_capabilities(xml);
    } catch (const std::exception& e) {
      probe.error = e.what();
    }
    free(xml);
  } else {
    probe.error = "virConnectGetDomainCapabilities: " + last_libvirt_error();
  }
  return probe;
}

}  // namespace armorbench::vms
