// libvirt connection lifetime and domain listing.
#include "armorbench/vms/LibvirtConnection.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <utility>

#include "armorbench/base/Error.h"

namespace armorbench::vms {

std::string last_libvirt_error() {
  const virErrorPtr error = virGetLastError();
  return error && error->message ? error->message : "unknown libvirt error";
}

void silence_libvirt_errors() {
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
}

LibvirtConnection::LibvirtConnection(std::string uri) : uri_(std::move(uri)) {
  silence_libvirt_errors();
  connection_ = virConnectOpen(uri_.c_str());
  if (!connection_)
    throw environment_error("cannot connect to libvirt at " + uri_ + ": " + last_libvirt_error());
}

LibvirtConnection::~LibvirtConnection() {
  if (connection_) virConnectClose(connection_);
}

LibvirtConnection::LibvirtConnection(LibvirtConnection&& other) noexcept
    : uri_(std::move(other.uri_)), connection_(std::exchange(other.connection_, nullptr)) {}

LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&& other) noexcept {
  if (this != &other) {
    if (connection_) virConnectClose(connection_);
    uri_ = std::move(other.uri_);
    connection_ = std::exchange(other.connection_, nullptr);
  }
  return *this;
}

std::vector<std::string> LibvirtConnection::domain_names() const {
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(connection_, &domains, 0);
  if (count < 0) throw environment_error("listing libvirt domains: " + last_libvirt_error());
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    if (const char* name = virDomainGetName(domains[i])) names.emplace_back(name);
    virDomainFree(domains[i]);
  }
  std::free(domains);
  return names;
}

std::optional<std::string> LibvirtConnection::domain_state(const std::string& name) const {
  virDomainPtr domain = virDomainLookupByName(connection_, name.c_str());
  if (!domain) return std::nullopt;
  int state = VIR_DOMAIN_NOSTATE;
  int reason = 0;
  const int rc = virDomainGetState(domain, &state, &reason, 0);
  virDomainFree(domain);
  if (rc < 0) return std::nullopt;
  switch (state) {
    case VIR_DOMAIN_RUNNING:
      return "running";
    case VIR_DOMAIN_BLOCKED:
      return "blocked";
    case VIR_DOMAIN_PAUSED:
      return "paused";
    case VIR_DOMAIN_SHUTDOWN:
      return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
      return "shutoff";
    case VIR_DOMAIN_CRASHED:
      return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
      return "pmsuspended";
    default:
      return "nostate";
  }
}

void LibvirtConnection::destroy_domain(const std::string& name) const {
  virDomainPtr domain = virDomainLookupByName(connection_, name.c_str());
  if (!domain) return;
  const bool active = virDomainIsActive(domain) == 1;
  const int rc = active ? virDomainDestroy(domain) : 0;
  const std::string error = rc != 0 ? last_libvirt_error() : "";
  virDomainFree(domain);
  if (rc == 0) return;
  // Gone between the lookup and the destroy: not an error.
  virDomainPtr again = virDomainLookupByName(connection_, name.c_str());
  if (!again) return;
  virDomainFree(again);
  throw environment_error("virDomainDestroy(" + name + "): " + error);
}

}  // namespace armorbench::vms
