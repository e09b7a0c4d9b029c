// The attacks component's public surface: what the harness includes to run attacks in-process
// (memory scan of a process or core file, the fake mining pool) and to read their evidence.
#pragma once

#include "armorbench/attacks/BeaconListener.h"
#include "armorbench/attacks/CanarySearch.h"
#include "armorbench/attacks/FakeStratumPool.h"
#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/attacks/ScanResult.h"
#include "armorbench/attacks/StratumMiner.h"
