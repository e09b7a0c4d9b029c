// domain_xml(): validated against libvirt's own schema with virt-xml-validate (a subprocess),
// for every launch-security type, plus the elements the micro-VM depends on and XML escaping.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "TempDir.h"
#include "armorbench/base/Error.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/vms/DomainSpec.h"

namespace armorbench::vms {
namespace {

using testing::TempDir;

DomainSpec spec_for(LaunchSecurity security) {
  DomainSpec spec;
  spec.name = "armorbench-unit-" + to_string(security);
  spec.launch_security = security;
  spec.kernel = "/var/cache/armorbench/guest/vmlinux";
  spec.initrd = "/var/cache/armorbench/guest/initramfs.cpio.gz";
  spec.cmdline = "console=ttyS0 panic=-1 armorbench.agent=/opt/agent";
  spec.run_dir = "/run/armorbench/vms/unit";
  spec.scratch = "/run/armorbench/vms/unit/scratch";
  return spec;
}

std::filesystem::path write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path() / name;
  std::ofstream(path) << text;
  return path;
}

CommandResult validate(const std::filesystem::path& file) {
  return run_command({"virt-xml-validate", file.string(), "domain"}, std::chrono::seconds(60));
}

// Whether the installed libvirt schema knows a launch-security type (libvirt 9.0 knows only
// sev and s390-pv; sev-snp came with 10.5, tdx with 11.x).
bool installed_schema_knows(const std::string& type) {
  std::ifstream in("/usr/share/libvirt/schemas/domaincommon.rng");
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find("<value>" + type + "</value>") != std::string::npos;
}

class LaunchSecurityXml : public ::testing::TestWithParam<LaunchSecurity> {};

TEST_P(LaunchSecurityXml, IsValidForLibvirtsSchema) {
  const LaunchSecurity security = GetParam();
  TempDir dir;
  const std::string xml = domain_xml(spec_for(security));
  const auto file = write(dir, "domain.xml", xml);
  const CommandResult system = validate(file);
  const std::string type = to_string(security);
  if (security == LaunchSecurity::kNone || installed_schema_knows(type)) {
    EXPECT_TRUE(system.status.exited_ok()) << system.out << system.err << xml;
    return;
  }
  // The installed libvirt predates this type: it must refuse exactly the <launchSecurity>
  // element, and the rest of the document must pass the same schema extended by the type's
  // documented form (tests/data/launch-security-next.rng).
  EXPECT_FALSE(system.status.exited_ok()) << "the installed schema now knows " << type;
  EXPECT_NE(system.err.find("element launchSecurity"), std::string::npos) << system.err;
  const CommandResult extended = run_command(
      {"xmllint", "--noout", "--relaxng",
       std::string(ARMORBENCH_VMS_TEST_DATA) + "/launch-security-next.rng", file.string()},
      std::chrono::seconds(60));
  EXPECT_TRUE(extended.status.exited_ok()) << extended.err << xml;
}

TEST_P(LaunchSecurityXml, CarriesTheLaunchSecurityElement) {
  const LaunchSecurity security = GetParam();
  const std::string xml = domain_xml(spec_for(security));
  if (security == LaunchSecurity::kNone) {
    EXPECT_EQ(xml.find("<launchSecurity"), std::string::npos);
    EXPECT_NE(xml.find("machine='pc'"), std::string::npos);
    return;
  }
  EXPECT_NE(xml.find("<launchSecurity type='" + to_string(security) + "'"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<policy>0x"), std::string::npos);
  // Confidential guests boot UEFI firmware on q35.
  EXPECT_NE(xml.find("<os firmware='efi'>"), std::string::npos);
  EXPECT_NE(xml.find("machine='q35'"), std::string::npos);
  if (security != LaunchSecurity::kTdx) {
    EXPECT_NE(xml.find("<cbitpos>51</cbitpos>"), std::string::npos);
    EXPECT_NE(xml.find("<reducedPhysBits>1</reducedPhysBits>"), std::string::npos);
    EXPECT_NE(xml.find("kernelHashes='yes'"), std::string::npos);
    EXPECT_NE(xml.find("iommu='on'"), std::string::npos) << "virtio needs the IOMMU path under SEV";
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, LaunchSecurityXml,
                         ::testing::Values(LaunchSecurity::kNone, LaunchSecurity::kSev,
                                           LaunchSecurity::kSevSnp, LaunchSecurity::kTdx),
                         [](const auto& info) {
                           std::string name = to_string(info.param);
                           std::erase(name, '-');
                           return name;
                         });

TEST(DomainXml, HasWhatTheMicroVmNeeds) {
  const std::string xml = domain_xml(spec_for(LaunchSecurity::kNone));
  for (const char* expected : {
           "<domain type='qemu'>",
           "<memory unit='MiB'>1024</memory>",
           "<vcpu placement='static'>1</vcpu>",
           "<kernel>/var/cache/armorbench/guest/vmlinux</kernel>",
           "<acpi/>",
           "<on_poweroff>destroy</on_poweroff>",
           "<source dir='/'/>",
           "<target dir='hostroot'/>",
           "<readonly/>",
           "accessmode='mapped'",
           "<target dir='scratch'/>",
           "<interface type='user'>",
           "<log file='/run/armorbench/vms/unit/console.log' append='off'/>",
           "<source mode='bind' path='/run/armorbench/vms/unit/agent.sock'/>",
           "<target type='virtio' name='armorbench.agent'/>",
           "<source mode='bind' path='/run/armorbench/vms/unit/http.sock'/>",
           "<target type='virtio' name='armorbench.http'/>",
       })
    EXPECT_NE(xml.find(expected), std::string::npos) << expected << "\n" << xml;
}

TEST(DomainXml, SnapshotGuestHasItsUuidAndReadOnlyRootImage) {
  TempDir dir;
  DomainSpec spec = spec_for(LaunchSecurity::kNone);
  spec.uuid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
  spec.root_image = "/var/cache/armorbench/vm-snapshot/k/root.ext4";
  const std::string xml = domain_xml(spec);
  for (const char* expected : {"<uuid>6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b</uuid>",
                               "<source file='/var/cache/armorbench/vm-snapshot/k/root.ext4'/>",
                               "<target dev='vda' bus='virtio'/>"})
    EXPECT_NE(xml.find(expected), std::string::npos) << expected << "\n" << xml;
  const auto disk = xml.find("<disk");
  ASSERT_NE(disk, std::string::npos);
  EXPECT_LT(xml.find("<readonly/>", disk), xml.find("</disk>", disk)) << "read-only disk: " << xml;
  const CommandResult valid = validate(write(dir, "snapshot.xml", xml));
  EXPECT_TRUE(valid.status.exited_ok()) << valid.out << valid.err << xml;

  spec.uuid = "not a uuid";
  EXPECT_THROW(domain_xml(spec), Error);
  spec.uuid.clear();
  spec.root_image = "relative.ext4";
  EXPECT_THROW(domain_xml(spec), Error);
}

TEST(DomainXml, KvmAccelIsDomainTypeKvm) {
  DomainSpec spec = spec_for(LaunchSecurity::kNone);
  spec.accel = Accel::kKvm;
  EXPECT_NE(domain_xml(spec).find("<domain type='kvm'>"), std::string::npos);
}

TEST(DomainXml, OptionalDevicesCanBeLeftOut) {
  DomainSpec spec = spec_for(LaunchSecurity::kNone);
  spec.scratch.reset();
  spec.network = false;
  const std::string xml = domain_xml(spec);
  EXPECT_EQ(xml.find("scratch"), std::string::npos);
  EXPECT_EQ(xml.find("<interface"), std::string::npos);
}

TEST(DomainXml, EscapesPathsAndCmdline) {
  TempDir dir;
  DomainSpec spec = spec_for(LaunchSecurity::kNone);
  spec.run_dir = "/tmp/a&b'c<d>\"e";
  spec.cmdline = "console=ttyS0 -- \"quoted arg\" <x> & 'y'";
  const std::string xml = domain_xml(spec);
  EXPECT_NE(xml.find("path='/tmp/a&amp;b&apos;c&lt;d&gt;&quot;e/agent.sock'"), std::string::npos)
      << xml;
  const auto file = write(dir, "escaped.xml", xml);
  const CommandResult system = validate(file);
  EXPECT_TRUE(system.status.exited_ok()) << system.err;
  // An XML parser gets the original text back.
  const CommandResult cmdline =
      run_command({"xmllint", "--xpath", "string(/domain/os/cmdline)", file.string()},
                  std::chrono::seconds(30));
  EXPECT_EQ(cmdline.out, spec.cmdline + "\n");  // xmllint ends its output with a newline
  const CommandResult path = run_command(
      {"xmllint", "--xpath", "string(/domain/devices/channel[1]/source/@path)", file.string()},
      std::chrono::seconds(30));
  EXPECT_EQ(path.out, "/tmp/a&b'c<d>\"e/agent.sock\n");
}

TEST(DomainXml, RefusesWhatLibvirtWouldMisreport) {
  DomainSpec relative = spec_for(LaunchSecurity::kNone);
  relative.kernel = "guest/vmlinux";
  try {
    domain_xml(relative);
    FAIL() << "a relative kernel path was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("kernel must be an absolute path"), std::string::npos);
  }
  DomainSpec bad_name = spec_for(LaunchSecurity::kNone);
  bad_name.name = "two words";
  EXPECT_THROW(domain_xml(bad_name), Error);
  DomainSpec no_memory = spec_for(LaunchSecurity::kNone);
  no_memory.memory_mib = 0;
  EXPECT_THROW(domain_xml(no_memory), Error);
}

TEST(DomainXml, NamesRoundTrip) {
  for (const auto security :
       {LaunchSecurity::kNone, LaunchSecurity::kSev, LaunchSecurity::kSevSnp, LaunchSecurity::kTdx})
    EXPECT_EQ(launch_security_from_string(to_string(security)), security);
  EXPECT_EQ(accel_from_string("kvm"), Accel::kKvm);
  EXPECT_EQ(accel_from_string("tcg"), Accel::kTcg);
  EXPECT_FALSE(launch_security_from_string("sgx"));
}

}  // namespace
}  // namespace armorbench::vms
