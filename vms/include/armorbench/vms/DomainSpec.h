// What a micro-VM domain looks like, and its libvirt XML. domain_xml() is a pure function of the
// spec: the same spec always gives the same document, so tests can validate it against
// libvirt's schema without a daemon.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace armorbench::vms {

// kvm: hardware virtualisation (<domain type='kvm'>); tcg: QEMU's emulator (<domain type='qemu'>).
enum class Accel { kKvm, kTcg };

// Confidential-VM launch security: which <launchSecurity> element the domain carries.
enum class LaunchSecurity { kNone, kSev, kSevSnp, kTdx };

std::string to_string(Accel accel);
std::string to_string(LaunchSecurity security);
std::optional<Accel> accel_from_string(std::string_view text);
std::optional<LaunchSecurity> launch_security_from_string(std::string_view text);

// Host-specific numbers a CVM launch needs. The defaults are placeholders that are valid for the
// schema (and typical of AMD EPYC Milan/Genoa); a real launch takes cbitpos and
// reduced_phys_bits from the host's domain capabilities (<sev><cbitpos>).
struct LaunchSecurityParams {
  unsigned cbitpos = 51;
  unsigned reduced_phys_bits = 1;
  std::optional<std::uint64_t> policy;  // default per type: see domain_xml()
};

struct DomainSpec {
  std::string name;  // letters, digits, '-', '_', '.'
  unsigned memory_mib = 1024;
  unsigned vcpus = 1;
  Accel accel = Accel::kTcg;
  LaunchSecurity launch_security = LaunchSecurity::kNone;
  LaunchSecurityParams launch_params;
  std::filesystem::path kernel;  // absolute: the ELF vmlinux (PVH entry) or a bzImage
  std::filesystem::path initrd;  // absolute
  std::string cmdline;
  std::filesystem::path hostroot = "/";          // shared read-only as 9p tag "hostroot"
  std::optional<std::filesystem::path> scratch;  // writable 9p tag "scratch" (accessmode mapped)
  std::filesystem::path run_dir;                 // absolute: sockets and the console log
  bool network = true;                           // user-mode (slirp) NIC, host at 10.0.2.2
  std::filesystem::path emulator = "/usr/bin/qemu-system-x86_64";
  // Snapshots: a fixed UUID (a restore's XML must carry the saved domain's) and the root image,
  // attached read-only as virtio disk vda.
  std::string uuid;
  std::optional<std::filesystem::path> root_image;

  std::filesystem::path agent_socket() const { return run_dir / "agent.sock"; }
  std::filesystem::path http_socket() const { return run_dir / "http.sock"; }
  std::filesystem::path console_log() const { return run_dir / "console.log"; }
};

// The <domain> document for virDomainCreateXML. Throws an input Error for a spec libvirt would
// refuse with a misleading message (relative paths, empty name, zero memory or vCPUs).
std::string domain_xml(const DomainSpec& spec);

}  // namespace armorbench::vms
