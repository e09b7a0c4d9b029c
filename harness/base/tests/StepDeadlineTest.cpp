// Step deadlines: a wait inside a step ends at the step's limit with the step's name; steps nest;
// shields and unwinding suspend them; work that never waits is caught by finish().
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "armorbench/base/Interrupt.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A pipe nobody writes to: a poll on its read end waits for its whole timeout.
struct QuietPipe {
  UniqueFd read, write;
  QuietPipe() {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    read = UniqueFd(fds[0]);
    write = UniqueFd(fds[1]);
  }
  int wait(milliseconds timeout) {
    pollfd fd{read.get(), POLLIN, 0};
    return poll_interruptible(&fd, 1, timeout);
  }
};

// The step named by the StepTimeout `body` throws, and how long it took.
std::pair<std::string, milliseconds> timed_out_step(const auto& body) {
  const auto start = Clock::now();
  try {
    body();
  } catch (const StepTimeout& e) {
    return {e.step(), std::chrono::duration_cast<milliseconds>(Clock::now() - start)};
  }
  return {"", std::chrono::duration_cast<milliseconds>(Clock::now() - start)};
}

TEST(StepDeadline, EndsALongerWaitAtTheLimitNamingTheStep) {
  QuietPipe pipe;
  const auto [step, took] = timed_out_step([&] {
    StepDeadline ready("ready", milliseconds(150));
    pipe.wait(milliseconds(20'000));
  });
  EXPECT_EQ(step, "ready");
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, milliseconds(5'000)) << "the 20 s wait was not cut at the step's limit";
}

TEST(StepDeadline, AWaitShorterThanTheLimitTimesOutAsUsual) {
  QuietPipe pipe;
  StepDeadline create("create", milliseconds(10'000));
  EXPECT_EQ(pipe.wait(milliseconds(50)), 0);
  EXPECT_NO_THROW(create.finish());
}

TEST(StepDeadline, TheStepWhoseLimitPassesFirstIsNamed) {
  QuietPipe pipe;
  EXPECT_EQ(timed_out_step([&] {
              StepDeadline create("create", milliseconds(10'000));
              StepDeadline load("enforcer-load", milliseconds(100));
              pipe.wait(milliseconds(20'000));
            }).first,
            "enforcer-load");
  EXPECT_EQ(timed_out_step([&] {
              StepDeadline create("create", milliseconds(100));
              StepDeadline load("enforcer-load", milliseconds(10'000));
              pipe.wait(milliseconds(20'000));
            }).first,
            "create")
      << "an inner step cannot outlive its outer one";
}

TEST(StepDeadline, ChecksBetweenWaitsAndOnlyWhileOpen) {
  const auto [step, took] = timed_out_step([] {
    StepDeadline request("request", milliseconds(50));
    for (;;) {
      check_interrupted();  // a loop of short steps of its own, e.g. requests
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  EXPECT_EQ(step, "request");
  { StepDeadline quick("request", milliseconds(1)); }
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_NO_THROW(check_interrupted()) << "a closed step still applied";
}

TEST(StepDeadline, AShieldOpenedInsideSuspendsIt) {
  QuietPipe pipe;
  StepDeadline teardown("teardown", milliseconds(20));
  std::this_thread::sleep_for(milliseconds(30));
  {
    InterruptShield shield;  // e.g. deleting a container: runs to completion
    EXPECT_EQ(pipe.wait(milliseconds(50)), 0);
    EXPECT_NO_THROW(check_interrupted());
  }
  EXPECT_THROW(check_interrupted(), StepTimeout) << "outside the shield the limit applies again";
}

TEST(StepDeadline, NeverCutsAWaitOfADestructorWhileUnwinding) {
  QuietPipe pipe;
  struct WaitsOnDestruction {
    QuietPipe& pipe;
    int result = -2;
    int* out;
    ~WaitsOnDestruction() { *out = pipe.wait(milliseconds(50)); }
  };
  int waited = -2;
  try {
    StepDeadline objective("objective", milliseconds(10));
    WaitsOnDestruction guard{pipe, -2, &waited};
    std::this_thread::sleep_for(milliseconds(20));
    check_interrupted();  // throws: the guard's destructor waits during the unwinding
  } catch (const StepTimeout& e) {
    EXPECT_EQ(e.step(), "objective");
  }
  EXPECT_EQ(waited, 0) << "the destructor's wait ran to its own timeout";
}

TEST(StepDeadline, FinishCatchesWorkThatNeverWaited) {
  StepDeadline load("enforcer-load", milliseconds(10));
  std::this_thread::sleep_for(milliseconds(20));  // e.g. a libbpf load: no poll to cut
  try {
    load.finish();
    ADD_FAILURE() << "finish() accepted a step over its limit";
  } catch (const StepTimeout& e) {
    EXPECT_EQ(e.step(), "enforcer-load");
    EXPECT_EQ(e.limit(), milliseconds(10));
    EXPECT_NE(std::string(e.what()).find("step enforcer-load"), std::string::npos) << e.what();
  }
}

TEST(StepDeadline, IsAnInterruptToCodeThatUnwindsOnInterrupts) {
  // Code that lets Interrupted through (and releases what it holds) treats a timeout alike.
  EXPECT_THROW(
      {
        StepDeadline create("create", milliseconds(1));
        std::this_thread::sleep_for(milliseconds(5));
        try {
          check_interrupted();
        } catch (const Interrupted&) {
          throw;
        }
      },
      StepTimeout);
}

}  // namespace
}  // namespace armorbench
