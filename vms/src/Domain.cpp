// Transient domain lifecycle over the libvirt C API.
#include "armorbench/vms/Domain.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <utility>

#include "armorbench/base/Error.h"
#include "armorbench/base/Interrupt.h"

namespace armorbench::vms {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// QEMU's command line carries "-name guest=<name>,..." (libvirt's qemu driver).
bool is_qemu_of(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string wanted = "guest=" + name;
  for (std::size_t begin = 0; begin < cmdline.size();) {
    const std::size_t end = std::min(cmdline.find('\0', begin), cmdline.size());
    const std::string_view arg(cmdline.data() + begin, end - begin);
    if (arg == wanted || arg.starts_with(wanted + ",")) return true;
    begin = end + 1;
  }
  return false;
}

bool already_gone(const virErrorPtr error) {
  return error && (error->code == VIR_ERR_NO_DOMAIN || error->code == VIR_ERR_OPERATION_INVALID);
}

}  // namespace

Domain Domain::create(const LibvirtConnection& connection, const std::string& xml,
                      CreateOptions options) {
  const auto start = Clock::now();
  const unsigned flags = options.autodestroy ? VIR_DOMAIN_START_AUTODESTROY : 0;
  virDomainPtr domain = virDomainCreateXML(connection.get(), xml.c_str(), flags);
  if (!domain) throw environment_error("virDomainCreateXML: " + last_libvirt_error());
  const char* name = virDomainGetName(domain);
  return Domain(domain, name ? name : "", since(start));
}

Domain Domain::restore(const LibvirtConnection& connection, const std::filesystem::path& image,
                       const std::string& xml, const std::string& name) {
  const auto start = Clock::now();
  // No flags: the state it was saved in (running), which libvirt's test driver supports too.
  if (virDomainRestoreFlags(connection.get(), image.c_str(), xml.empty() ? nullptr : xml.c_str(),
                            0) != 0)
    throw environment_error("virDomainRestoreFlags(" + image.string() +
                            "): " + last_libvirt_error());
  virDomainPtr domain = virDomainLookupByName(connection.get(), name.c_str());
  if (!domain) {
    const std::string error = last_libvirt_error();
    // It runs, under another name: found by the UUID it was saved with and destroyed (a restore
    // has no autodestroy), never left running.
    std::string cleanup = "destroyed";
    try {
      const std::string described = xml.empty() ? saved_xml(connection, image) : xml;
      const auto open = described.find("<uuid>");
      const auto close = described.find("</uuid>");
      virDomainPtr restored =
          open == std::string::npos || close == std::string::npos
              ? nullptr
              : virDomainLookupByUUIDString(connection.get(),
                                            described.substr(open + 6, close - open - 6).c_str());
      if (!restored) throw environment_error("not found by its UUID: " + last_libvirt_error());
      Domain(restored, "", since(start)).destroy();  // frees it too
    } catch (const Error& e) {
      cleanup = std::string("could not be destroyed: ") + e.what();
    }
    throw environment_error("the restored domain " + name + " is not found (" + error +
                            "); what was restored " + cleanup);
  }
  return Domain(domain, name, since(start));
}

std::string Domain::saved_xml(const LibvirtConnection& connection,
                              const std::filesystem::path& image) {
  char* xml = virDomainSaveImageGetXMLDesc(connection.get(), image.c_str(), 0);
  if (!xml)
    throw environment_error("virDomainSaveImageGetXMLDesc(" + image.string() +
                            "): " + last_libvirt_error());
  std::string text(xml);
  std::free(xml);
  return text;
}

void Domain::save(const std::filesystem::path& path) {
  if (virDomainSaveFlags(domain_, path.c_str(), nullptr, 0) != 0)
    throw environment_error("virDomainSaveFlags(" + name_ + ", " + path.string() +
                            "): " + last_libvirt_error());
}

Domain::~Domain() {
  if (!domain_) return;
  InterruptShield shield;
  try {
    destroy();
  } catch (const std::exception& e) {
    std::cerr << "armorbench: destroying domain " << name_ << ": " << e.what() << "\n";
  }
  virDomainFree(domain_);
}

Domain::Domain(Domain&& other) noexcept
    : domain_(std::exchange(other.domain_, nullptr)),
      name_(std::move(other.name_)),
      create_time_(other.create_time_) {}

Domain& Domain::operator=(Domain&& other) noexcept {
  if (this != &other) {
    Domain old(std::move(*this));  // destroys what this held
    domain_ = std::exchange(other.domain_, nullptr);
    name_ = std::move(other.name_);
    create_time_ = other.create_time_;
  }
  return *this;
}

bool Domain::active() const {
  return domain_ && virDomainIsActive(domain_) == 1;
}

void Domain::destroy() {
  if (!domain_) return;
  if (virDomainIsActive(domain_) != 1) return;  // shut off, or a transient domain already gone
  if (virDomainDestroy(domain_) == 0) return;
  if (already_gone(virGetLastError())) return;  // it went away between the two calls
  throw environment_error("virDomainDestroy(" + name_ + "): " + last_libvirt_error());
}

std::optional<pid_t> Domain::qemu_pid() const {
  std::ifstream pidfile("/var/run/libvirt/qemu/" + name_ + ".pid");
  pid_t pid = 0;
  if (pidfile >> pid && pid > 0 && is_qemu_of(pid, name_)) return pid;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string base = entry.path().filename().string();
    if (base.empty() || base.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t candidate = static_cast<pid_t>(std::stol(base));
    if (is_qemu_of(candidate, name_)) return candidate;
  }
  return std::nullopt;
}

CoreDump Domain::core_dump_memory(const std::filesystem::path& path, bool live) {
  const auto start = Clock::now();
  unsigned flags = VIR_DUMP_MEMORY_ONLY;
  if (live) flags |= VIR_DUMP_LIVE;
  // FORMAT_RAW with MEMORY_ONLY is QEMU's default dump-guest-memory format: an ELF core
  // (what `virsh dump --memory-only --format=elf` asks for).
  if (virDomainCoreDumpWithFormat(domain_, path.c_str(), VIR_DOMAIN_CORE_DUMP_FORMAT_RAW, flags) !=
      0)
    throw environment_error("virDomainCoreDumpWithFormat(" + name_ + ", " + path.string() +
                            "): " + last_libvirt_error());
  CoreDump dump;
  dump.path = path;
  dump.elapsed = since(start);
  dump.format = "elf";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) dump.bytes = static_cast<std::uint64_t>(st.st_size);
  return dump;
}

}  // namespace armorbench::vms
