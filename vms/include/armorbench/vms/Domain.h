// A transient libvirt domain (virDomainCreateXML) that is destroyed (virDomainDestroy) when this
// object goes away, on every path: normal return, exception, or SIGINT/SIGTERM (the destructor
// runs under an InterruptShield, so teardown completes after the signal that started it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "armorbench/vms/LibvirtConnection.h"

typedef struct _virDomain virDomain;

namespace armorbench::vms {

struct CoreDump {
  std::filesystem::path path;
  std::uint64_t bytes = 0;
  std::chrono::milliseconds elapsed{0};
  std::string format;  // "elf": QEMU's dump-guest-memory ELF core (PT_LOAD per RAM block)
};

class Domain {
 public:
  struct CreateOptions {
    // VIR_DOMAIN_START_AUTODESTROY: libvirt destroys the domain when this connection closes,
    // even if this process dies without running destructors (the qemu driver has it; libvirt's
    // test driver does not).
    bool autodestroy = false;
  };

  // Starts a transient domain; throws an environment Error with libvirt's message.
  static Domain create(const LibvirtConnection& connection, const std::string& xml,
                       CreateOptions options);
  // Starts a domain from a saved memory image (virDomainRestoreFlags, running) with `xml`, which
  // must describe the saved domain (same UUID and devices; name and file paths may differ), or
  // is empty (the saved XML as it is).
  // libvirt has no autodestroy for a restore: the destructor destroys it, and `armorbench clean`
  // destroys the domains of a run killed outright. Throws an environment Error.
  static Domain restore(const LibvirtConnection& connection, const std::filesystem::path& image,
                        const std::string& xml, const std::string& name);
  // The domain XML kept in a saved image (virDomainSaveImageGetXMLDesc, with what libvirt filled
  // in: MAC address, PCI addresses), the base of a restore's XML.
  static std::string saved_xml(const LibvirtConnection& connection,
                               const std::filesystem::path& image);
  ~Domain();
  Domain(Domain&& other) noexcept;
  Domain& operator=(Domain&& other) noexcept;
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  const std::string& name() const { return name_; }
  // How long virDomainCreateXML took (libvirt plus the QEMU process start).
  std::chrono::milliseconds create_time() const { return create_time_; }
  // Running (or paused) right now; false once it shut off or was destroyed.
  bool active() const;

  // The QEMU process: libvirt's pid file, checked against /proc/<pid>/cmdline (guest=<name>),
  // else a /proc scan for that argument. nullopt for drivers without a process (test:///).
  std::optional<pid_t> qemu_pid() const;

  // Guest memory to `path` (virDomainCoreDumpWithFormat, VIR_DUMP_MEMORY_ONLY, ELF). Without
  // `live` libvirt pauses the guest during the dump and resumes it after. Throws on failure.
  CoreDump core_dump_memory(const std::filesystem::path& path, bool live = false);

  // Saves the running domain's memory and device state to `path` (virDomainSaveFlags); the
  // domain is gone afterwards. Throws an environment Error (e.g. QEMU's migration blockers).
  void save(const std::filesystem::path& path);

  // virDomainDestroy; idempotent, and a domain that is already gone is not an error. Throws
  // only for a real failure to destroy (the destructor swallows and reports on stderr).
  void destroy();

 private:
  Domain(virDomain* domain, std::string name, std::chrono::milliseconds create_time)
      : domain_(domain), name_(std::move(name)), create_time_(create_time) {}

  virDomain* domain_ = nullptr;
  std::string name_;
  std::chrono::milliseconds create_time_{0};
};

}  // namespace armorbench::vms
