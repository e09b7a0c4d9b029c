// parse_domain_capabilities() on documents as libvirt prints them: this host's real output (no
// confidential computing) and canned SEV, SEV-SNP and TDX hosts (tests/data/domcaps-*.xml,
// each file says what it is based on).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "armorbench/vms/DomainCapabilities.h"

namespace armorbench::vms {
namespace {

std::string data(const std::string& name) {
  std::ifstream in(std::string(ARMORBENCH_VMS_TEST_DATA) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << name;
  return text.str();
}

TEST(DomainCapabilities, ThisHostOffersNoConfidentialVm) {
  const DomainCapabilities caps = parse_domain_capabilities(data("domcaps-none.xml"));
  EXPECT_FALSE(caps.sev);
  EXPECT_FALSE(caps.sev_snp);
  EXPECT_FALSE(caps.tdx);
  EXPECT_NE(caps.evidence.find("<sev supported=\"no\""), std::string::npos) << caps.evidence;
  for (const char* type : {"sev", "sev-snp", "tdx"}) EXPECT_FALSE(caps.supports(type));
  // libvirt 9.0 has no TDX or SEV-SNP feature element: the evidence says so, with what it has.
  EXPECT_EQ(caps.evidence_for("tdx"), "no tdx in <features> (" + caps.evidence + ")");
  EXPECT_EQ(caps.evidence_for("sev-snp"), "no sev-snp in <features> (" + caps.evidence + ")");
  EXPECT_EQ(caps.evidence_for("sev"), caps.evidence);
}

TEST(DomainCapabilities, SevHost) {
  const DomainCapabilities caps = parse_domain_capabilities(data("domcaps-sev.xml"));
  EXPECT_TRUE(caps.sev);
  EXPECT_FALSE(caps.sev_snp);
  EXPECT_FALSE(caps.tdx);
  EXPECT_TRUE(caps.supports("sev"));
  EXPECT_NE(caps.evidence.find("<cbitpos>47</cbitpos>"), std::string::npos) << caps.evidence;
}

TEST(DomainCapabilities, SevSnpHostIsReportedThroughTheSectypeEnum) {
  const DomainCapabilities caps = parse_domain_capabilities(data("domcaps-sev-snp.xml"));
  EXPECT_TRUE(caps.sev);
  EXPECT_TRUE(caps.sev_snp);
  EXPECT_FALSE(caps.tdx);
  EXPECT_TRUE(caps.supports("sev-snp"));
  EXPECT_NE(caps.evidence.find("sectype"), std::string::npos) << caps.evidence;
  EXPECT_EQ(caps.evidence_for("sev-snp"), caps.evidence) << "named in the sectype enum";
}

TEST(DomainCapabilities, TdxHost) {
  const DomainCapabilities caps = parse_domain_capabilities(data("domcaps-tdx.xml"));
  EXPECT_FALSE(caps.sev);
  EXPECT_FALSE(caps.sev_snp);
  EXPECT_TRUE(caps.tdx);
  EXPECT_TRUE(caps.supports("tdx"));
  EXPECT_FALSE(caps.supports("sev"));
  EXPECT_EQ(caps.evidence_for("tdx"), caps.evidence);
}

TEST(DomainCapabilities, UnsupportedLaunchSecurityEnumCountsForNothing) {
  const DomainCapabilities caps = parse_domain_capabilities(
      "<domainCapabilities><features><launchSecurity supported='no'><enum name='sectype'>"
      "<value>tdx</value></enum></launchSecurity></features></domainCapabilities>");
  EXPECT_FALSE(caps.tdx);
}

TEST(DomainCapabilities, RefusesOtherDocuments) {
  EXPECT_THROW(parse_domain_capabilities("not xml <"), std::runtime_error);
  EXPECT_THROW(parse_domain_capabilities("<capabilities/>"), std::runtime_error);
  const DomainCapabilities empty = parse_domain_capabilities("<domainCapabilities/>");
  EXPECT_FALSE(empty.sev);
  EXPECT_NE(empty.evidence.find("<features> absent"), std::string::npos);
}

}  // namespace
}  // namespace armorbench::vms
