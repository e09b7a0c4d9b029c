// The vms component's public surface: boots guests. What the harness includes to build the guest
// image, describe and start micro-VM domains, probe KVM and confidential-VM support, and talk
// to the guest agent (start workload and enforcer, relay HTTP, read files, collect events).
#pragma once

#include "armorbench/base/Base64.h"
#include "armorbench/vms/AgentProtocol.h"
#include "armorbench/vms/Domain.h"
#include "armorbench/vms/DomainCapabilities.h"
#include "armorbench/vms/DomainSpec.h"
#include "armorbench/vms/GuestImage.h"
#include "armorbench/vms/GuestSnapshot.h"
#include "armorbench/vms/GuestStaging.h"
#include "armorbench/vms/GuestVm.h"
#include "armorbench/vms/KvmProbe.h"
#include "armorbench/vms/LibvirtConnection.h"
