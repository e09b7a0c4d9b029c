// An open libvirt connection (virConnectOpen), closed in the destructor. qemu:///system for real
// guests, test:///default (libvirt's in-process fake driver) for unit tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

typedef struct _virConnect virConnect;

namespace armorbench::vms {

class LibvirtConnection {
 public:
  // Throws an environment Error (libvirtd not running, no permission) with libvirt's message.
  explicit LibvirtConnection(std::string uri);
  ~LibvirtConnection();
  LibvirtConnection(LibvirtConnection&& other) noexcept;
  LibvirtConnection& operator=(LibvirtConnection&& other) noexcept;
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;

  virConnect* get() const { return connection_; }
  const std::string& uri() const { return uri_; }

  // Names of every domain this connection sees, running or defined (virConnectListAllDomains).
  std::vector<std::string> domain_names() const;
  // "running", "paused", "shutoff", ... of a domain by name; nullopt when there is none.
  std::optional<std::string> domain_state(const std::string& name) const;
  // virDomainDestroy of a domain by name; one that is gone already is not an error. Throws an
  // environment Error otherwise.
  void destroy_domain(const std::string& name) const;

 private:
  std::string uri_;
  virConnect* connection_ = nullptr;
};

// The calling thread's last libvirt error message ("unknown libvirt error" when none).
std::string last_libvirt_error();
// Keeps libvirt from printing every error to stderr; errors are read with last_libvirt_error().
void silence_libvirt_errors();

}  // namespace armorbench::vms
