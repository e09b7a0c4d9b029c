// The micro-VM's libvirt domain XML, built from a DomainSpec. Layout as measured by the
// prototype (vms/README.md): direct kernel boot, host root over 9p read-only, optional writable
// 9p scratch, two virtio-serial channels, serial console into a log, slirp networking, <acpi/>
// (without it the guest's power-off only halts and the domain keeps running).
#include "armorbench/vms/DomainSpec.h"

#include <cctype>
#include <cstdio>
#include <sstream>

#include "armorbench/base/Error.h"
#include "armorbench/base/XmlText.h"
#include "armorbench/vms/AgentProtocol.h"

namespace armorbench::vms {
namespace {

std::string hex(std::uint64_t value, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%0*llx", digits, static_cast<unsigned long long>(value));
  return buffer;
}

void require_absolute(const std::filesystem::path& path, const char* what) {
  // libvirt refuses relative paths, and for <kernel> with an error about <type>: say it here.
  if (path.empty() || !path.is_absolute())
    throw input_error(std::string("domain spec: ") + what + " must be an absolute path, not '" +
                      path.string() + "'");
}

bool confidential(LaunchSecurity security) {
  return security != LaunchSecurity::kNone;
}
bool amd_sev(LaunchSecurity security) {
  return security == LaunchSecurity::kSev || security == LaunchSecurity::kSevSnp;
}

// Default guest policies: in each, the debug bit is clear, so the host cannot read the guest's
// memory through the firmware's debug interface (the attack this harness measures).
std::uint64_t default_policy(LaunchSecurity security) {
  switch (security) {
    case LaunchSecurity::kSev:
      return 0x0003;  // NODBG | NOKS
    case LaunchSecurity::kSevSnp:
      return 0x30000;  // bit 17 (reserved, must be one) | SMT allowed; DEBUG (bit 19) clear
    case LaunchSecurity::kTdx:
      return 0x10000000;  // SEPT_VE_DISABLE; DEBUG (bit 0) clear
    case LaunchSecurity::kNone:
      break;
  }
  return 0;
}

void launch_security_xml(std::ostringstream& x, const DomainSpec& spec) {
  const LaunchSecurityParams& p = spec.launch_params;
  const std::uint64_t policy = p.policy.value_or(default_policy(spec.launch_security));
  switch (spec.launch_security) {
    case LaunchSecurity::kNone:
      return;
    case LaunchSecurity::kSev:
    case LaunchSecurity::kSevSnp: {
      // kernelHashes: the kernel, initrd and cmdline we boot directly are part of the launch
      // measurement (with AMD's OVMF build), so attestation covers the guest we put together.
      const bool snp = spec.launch_security == LaunchSecurity::kSevSnp;
      x << "  <launchSecurity type='" << (snp ? "sev-snp" : "sev") << "' kernelHashes='yes'"
        << (snp ? " authorKey='no' vcek='yes'" : "") << ">\n"
        << "    <cbitpos>" << p.cbitpos << "</cbitpos>\n"
        << "    <reducedPhysBits>" << p.reduced_phys_bits << "</reducedPhysBits>\n"
        << "    <policy>" << hex(policy, snp ? 8 : 4) << "</policy>\n"
        << "  </launchSecurity>\n";
      return;
    }
    case LaunchSecurity::kTdx:
      x << "  <launchSecurity type='tdx'>\n"
        << "    <policy>" << hex(policy, 8) << "</policy>\n"
        << "  </launchSecurity>\n";
      return;
  }
}

}  // namespace

std::string to_string(Accel accel) {
  return accel == Accel::kKvm ? "kvm" : "tcg";
}

std::string to_string(LaunchSecurity security) {
  switch (security) {
    case LaunchSecurity::kNone:
      return "none";
    case LaunchSecurity::kSev:
      return "sev";
    case LaunchSecurity::kSevSnp:
      return "sev-snp";
    case LaunchSecurity::kTdx:
      return "tdx";
  }
  return "none";
}

std::optional<Accel> accel_from_string(std::string_view text) {
  if (text == "kvm") return Accel::kKvm;
  if (text == "tcg") return Accel::kTcg;
  return std::nullopt;
}

std::optional<LaunchSecurity> launch_security_from_string(std::string_view text) {
  if (text == "none") return LaunchSecurity::kNone;
  if (text == "sev") return LaunchSecurity::kSev;
  if (text == "sev-snp") return LaunchSecurity::kSevSnp;
  if (text == "tdx") return LaunchSecurity::kTdx;
  return std::nullopt;
}

std::string domain_xml(const DomainSpec& spec) {
  if (spec.name.empty()) throw input_error("domain spec: the name is empty");
  for (const char c : spec.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      throw input_error("domain spec: name '" + spec.name +
                        "' may only hold letters, digits, '-', '_' and '.'");
  if (spec.memory_mib == 0) throw input_error("domain spec: memory_mib must be positive");
  if (spec.vcpus == 0) throw input_error("domain spec: vcpus must be positive");
  require_absolute(spec.kernel, "kernel");
  require_absolute(spec.initrd, "initrd");
  require_absolute(spec.hostroot, "hostroot");
  require_absolute(spec.run_dir, "run_dir");
  require_absolute(spec.emulator, "emulator");
  if (spec.scratch) require_absolute(*spec.scratch, "scratch");
  if (spec.root_image) require_absolute(*spec.root_image, "root_image");
  for (const char c : spec.uuid)
    if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == '-'))
      throw input_error("domain spec: uuid '" + spec.uuid + "' is not a UUID");

  const bool cvm = confidential(spec.launch_security);
  // SEV and SEV-SNP guests can only DMA through unencrypted bounce buffers: virtio devices must
  // use the platform IOMMU path (libvirt's launch security documentation).
  const std::string iommu = amd_sev(spec.launch_security) ? " iommu='on'" : "";
  std::ostringstream x;
  x << "<domain type='" << (spec.accel == Accel::kKvm ? "kvm" : "qemu") << "'>\n"
    << "  <name>" << xml_escape(spec.name) << "</name>\n";
  if (!spec.uuid.empty()) x << "  <uuid>" << spec.uuid << "</uuid>\n";
  x << "  <memory unit='MiB'>" << spec.memory_mib << "</memory>\n"
    << "  <vcpu placement='static'>" << spec.vcpus << "</vcpu>\n";
  // Confidential guests boot through UEFI firmware (OVMF/TDVF) on q35, which measures the
  // directly booted kernel; plain micro-VMs use the faster pc machine with SeaBIOS/PVH.
  x << (cvm ? "  <os firmware='efi'>\n" : "  <os>\n") << "    <type arch='x86_64' machine='"
    << (cvm ? "q35" : "pc") << "'>hvm</type>\n"
    << "    <kernel>" << xml_escape(spec.kernel.string()) << "</kernel>\n"
    << "    <initrd>" << xml_escape(spec.initrd.string()) << "</initrd>\n"
    << "    <cmdline>" << xml_escape(spec.cmdline) << "</cmdline>\n"
    << "  </os>\n"
    << "  <features>\n    <acpi/>\n  </features>\n"
    << "  <clock offset='utc'/>\n"
    << "  <on_poweroff>destroy</on_poweroff>\n"
    << "  <on_reboot>destroy</on_reboot>\n"
    << "  <on_crash>destroy</on_crash>\n"
    << "  <devices>\n"
    << "    <emulator>" << xml_escape(spec.emulator.string()) << "</emulator>\n";
  // The host root, read-only. multidevs='remap' keeps inode numbers unique across host mounts.
  x << "    <filesystem type='mount' accessmode='passthrough' multidevs='remap'>\n"
    << "      <driver type='path'" << iommu << "/>\n"
    << "      <source dir='" << xml_escape(spec.hostroot.string()) << "'/>\n"
    << "      <target dir='hostroot'/>\n"
    << "      <readonly/>\n"
    << "    </filesystem>\n";
  if (spec.root_image) {
    x << "    <disk type='file' device='disk'>\n"
      << "      <driver name='qemu' type='raw'" << iommu << "/>\n"
      << "      <source file='" << xml_escape(spec.root_image->string()) << "'/>\n"
      << "      <target dev='vda' bus='virtio'/>\n"
      << "      <readonly/>\n"
      << "    </disk>\n";
  }
  if (spec.scratch) {
    // QEMU runs as libvirt-qemu: 'passthrough' would chown every new file to the guest's uid
    // and fail with EPERM; 'mapped' keeps the guest's owner and mode in user.virtfs.* xattrs.
    x << "    <filesystem type='mount' accessmode='mapped' multidevs='remap'>\n"
      << "      <driver type='path'" << iommu << "/>\n"
      << "      <source dir='" << xml_escape(spec.scratch->string()) << "'/>\n"
      << "      <target dir='scratch'/>\n"
      << "    </filesystem>\n";
  }
  if (spec.network) {
    x << "    <interface type='user'>\n"
      << "      <model type='virtio'/>\n";
    if (!iommu.empty()) x << "      <driver" << iommu << "/>\n";
    x << "    </interface>\n";
  }
  x << "    <serial type='pty'>\n"
    << "      <log file='" << xml_escape(spec.console_log().string()) << "' append='off'/>\n"
    << "      <target port='0'/>\n"
    << "    </serial>\n"
    << "    <console type='pty'>\n"
    << "      <target type='serial' port='0'/>\n"
    << "    </console>\n";
  if (!iommu.empty()) {
    x << "    <controller type='virtio-serial' index='0'>\n"
      << "      <driver" << iommu << "/>\n"
      << "    </controller>\n";
  }
  for (const auto& [socket, channel] : {std::pair{spec.agent_socket(), kAgentChannel},
                                        std::pair{spec.http_socket(), kHttpChannel}}) {
    x << "    <channel type='unix'>\n"
      << "      <source mode='bind' path='" << xml_escape(socket.string()) << "'/>\n"
      << "      <target type='virtio' name='" << channel << "'/>\n"
      << "    </channel>\n";
  }
  x << "    <controller type='usb' model='none'/>\n"
    << "    <memballoon model='none'/>\n"
    << "  </devices>\n";
  launch_security_xml(x, spec);
  x << "</domain>\n";
  return x.str();
}

}  // namespace armorbench::vms
