// What libvirt says this host can launch: confidential-VM support (SEV, SEV-SNP, TDX) read from
// virConnectGetDomainCapabilities, kept with the XML as evidence for not-run verdicts.
#pragma once

#include <optional>
#include <string>

namespace armorbench::vms {

struct DomainCapabilities {
  bool sev = false;
  bool sev_snp = false;
  bool tdx = false;
  std::string evidence;  // the relevant XML elements, verbatim

  // Whether `launch_security` (sev | sev-snp | tdx) is offered.
  bool supports(const std::string& launch_security) const;
  // Why `launch_security` is (not) offered, in libvirt's words: the XML elements that mention it,
  // or that none does (libvirt before 9.x has no <sev-snp>/<tdx> feature at all) and what
  // <features> lists instead.
  std::string evidence_for(const std::string& launch_security) const;
};

// Parses a <domainCapabilities> document; throws std::runtime_error when it is not one.
DomainCapabilities parse_domain_capabilities(const std::string& xml);

struct LibvirtProbe {
  bool reachable = false;
  std::string error;               // why not reachable
  std::string libvirt_version;     // e.g. 9.0.0
  std::string hypervisor_version;  // e.g. QEMU 7.2.0
  bool kvm_device = false;         // /dev/kvm exists (usable is another question: see KvmProbe)
  std::optional<DomainCapabilities> capabilities;  // for virttype qemu
  std::string capabilities_xml;                    // libvirt's answer, verbatim (evidence)
};

// Connects to `uri` (qemu:///system) and reads versions and domain capabilities.
LibvirtProbe probe_libvirt(const std::string& uri);

}  // namespace armorbench::vms
