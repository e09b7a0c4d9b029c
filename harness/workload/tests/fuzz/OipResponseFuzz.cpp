// libFuzzer target: the OIP client's HTTP/1.1 response reader and JSON handling, fed arbitrary
// bytes as the server's side of the connection (a socketpair: what any target's stream is).
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>

#include "armorbench/base/FuzzInput.h"
#include "armorbench/workload/OipClient.h"

// The client's request write meets a closed peer: EPIPE, not a SIGPIPE that ends the fuzzer.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::signal(SIGPIPE, SIG_IGN);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace armorbench;
  if (size > 60000) return 0;  // stays inside one socket buffer: the write never blocks
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 0;
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(pair[1], data + written, size - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  ::shutdown(pair[1], SHUT_WR);  // the server's answer ends; it still takes the request
  const armorbench::UniqueFd server(pair[1]);
  OipClient client(UniqueFd(pair[0]), std::chrono::milliseconds(200));
  fuzz::expect_only_errors([&] { (void)client.infer("model", {1.0f, 2.0f}); });
  return 0;
}
