// Domain and LibvirtConnection against libvirt's in-process fake driver (test:///default):
// create, look up, destroy, and the destructor's cleanup on every path.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "FakeDomainXml.h"
#include "armorbench/base/Error.h"
#include "armorbench/vms/Domain.h"
#include "armorbench/vms/DomainSpec.h"
#include "armorbench/vms/LibvirtConnection.h"

namespace armorbench::vms {
namespace {

constexpr const char* kFake = "test:///default";

std::string micro_vm_xml(const std::string& name) {
  return testing::fake_micro_vm_xml(name);
}

bool listed(const LibvirtConnection& connection, const std::string& name) {
  const auto names = connection.domain_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(DomainLifecycle, CreateLookUpDestroy) {
  LibvirtConnection connection(kFake);
  Domain domain = Domain::create(connection, micro_vm_xml("ab-lifecycle"), {});
  EXPECT_EQ(domain.name(), "ab-lifecycle");
  EXPECT_TRUE(domain.active());
  EXPECT_TRUE(listed(connection, "ab-lifecycle"));
  EXPECT_EQ(connection.domain_state("ab-lifecycle"), "running");

  domain.destroy();
  EXPECT_FALSE(domain.active());
  EXPECT_FALSE(listed(connection, "ab-lifecycle")) << "a transient domain is gone once destroyed";
  EXPECT_EQ(connection.domain_state("ab-lifecycle"), std::nullopt);
  EXPECT_NO_THROW(domain.destroy()) << "destroy is idempotent";
}

// The fake driver saves and restores too (without a changed XML, which only the qemu driver
// takes: the snapshot end-to-end test restores under other names): what a snapshot's guest
// goes through.
TEST(DomainLifecycle, SaveThenRestore) {
  const std::filesystem::path image =
      std::filesystem::temp_directory_path() / ("armorbench-save-" + std::to_string(::getpid()));
  LibvirtConnection connection(kFake);
  {
    Domain domain = Domain::create(connection, micro_vm_xml("ab-saved"), {});
    domain.save(image);
    EXPECT_FALSE(domain.active()) << "a saved domain is gone";
    EXPECT_FALSE(listed(connection, "ab-saved"));
  }
  {
    Domain restored = Domain::restore(connection, image, "", "ab-saved");
    EXPECT_TRUE(restored.active());
    EXPECT_TRUE(listed(connection, "ab-saved"));
  }
  EXPECT_FALSE(listed(connection, "ab-saved")) << "the destructor destroys a restored domain";
  EXPECT_THROW(
      Domain::restore(connection, image.string() + ".missing", micro_vm_xml("ab-x"), "ab-x"),
      Error);
  std::filesystem::remove(image);
}

// A restore that succeeds under a name other than the one asked for (the lookup fails) leaves
// no domain running: a restore has no autodestroy.
TEST(DomainLifecycle, ARestoreWhoseLookupFailsLeavesNothingRunning) {
  const std::filesystem::path image =
      std::filesystem::temp_directory_path() / ("armorbench-save-2-" + std::to_string(::getpid()));
  LibvirtConnection connection(kFake);
  Domain(Domain::create(connection, micro_vm_xml("ab-saved-as"), {})).save(image);
  EXPECT_THROW(Domain::restore(connection, image, "", "ab-looked-up-as"), Error);
  EXPECT_FALSE(listed(connection, "ab-saved-as")) << "restored, not found, then left running";
  std::filesystem::remove(image);
}

TEST(DomainLifecycle, DestroyByNameIsIdempotent) {
  LibvirtConnection connection(kFake);
  Domain domain = Domain::create(connection, micro_vm_xml("ab-by-name"), {});
  connection.destroy_domain("ab-by-name");
  EXPECT_FALSE(listed(connection, "ab-by-name"));
  EXPECT_NO_THROW(connection.destroy_domain("ab-by-name"));
  EXPECT_NO_THROW(connection.destroy_domain("ab-never-was"));
}

TEST(DomainLifecycle, DestructorDestroys) {
  LibvirtConnection connection(kFake);
  {
    Domain domain = Domain::create(connection, micro_vm_xml("ab-scoped"), {});
    ASSERT_TRUE(listed(connection, "ab-scoped"));
  }
  EXPECT_FALSE(listed(connection, "ab-scoped"));
}

TEST(DomainLifecycle, DestructorDestroysWhenAnExceptionUnwinds) {
  LibvirtConnection connection(kFake);
  try {
    Domain domain = Domain::create(connection, micro_vm_xml("ab-unwound"), {});
    ASSERT_TRUE(listed(connection, "ab-unwound"));
    throw std::runtime_error("a failing test step");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(listed(connection, "ab-unwound"));
}

TEST(DomainLifecycle, MoveTransfersOwnership) {
  LibvirtConnection connection(kFake);
  std::optional<Domain> outer;
  {
    Domain inner = Domain::create(connection, micro_vm_xml("ab-moved"), {});
    outer.emplace(std::move(inner));
  }  // the moved-from object must not destroy the domain
  EXPECT_TRUE(listed(connection, "ab-moved"));
  EXPECT_TRUE(outer->active());
  outer.reset();
  EXPECT_FALSE(listed(connection, "ab-moved"));
}

TEST(DomainLifecycle, FakeDriverHasNoQemuProcess) {
  LibvirtConnection connection(kFake);
  Domain domain = Domain::create(connection, micro_vm_xml("ab-nopid"), {});
  EXPECT_EQ(domain.qemu_pid(), std::nullopt);
}

TEST(DomainLifecycle, CoreDumpRefusalIsAnEnvironmentError) {
  // The fake driver has no memory-only dumps: the error must carry libvirt's reason.
  LibvirtConnection connection(kFake);
  Domain domain = Domain::create(connection, micro_vm_xml("ab-nodump"), {});
  try {
    domain.core_dump_memory("/tmp/armorbench-unit-never-written.core");
    FAIL() << "the fake driver made a memory-only dump";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment);
    EXPECT_NE(std::string(e.what()).find("virDomainCoreDumpWithFormat"), std::string::npos)
        << e.what();
  }
}

TEST(DomainLifecycle, CreateFailureCarriesLibvirtsMessage) {
  LibvirtConnection connection(kFake);
  try {
    Domain::create(connection, "<domain type='qemu'><name>x</name></domain", {});
    FAIL() << "malformed XML was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment);
    EXPECT_NE(std::string(e.what()).find("virDomainCreateXML"), std::string::npos);
  }
}

TEST(DomainLifecycle, UnreachableDaemonIsAnEnvironmentError) {
  try {
    LibvirtConnection connection("qemu+unix:///system?socket=/nonexistent/libvirt-sock");
    FAIL() << "connected to a socket that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment);
  }
}

}  // namespace
}  // namespace armorbench::vms
