// The OIP v2 client against a scripted peer on a socketpair: request framing, Content-Length
// bodies split across reads, keep-alive reuse, and refusal of malformed answers.
#include "armorbench/workload/OipClient.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

using std::chrono::milliseconds;

struct Peer {
  UniqueFd client;
  UniqueFd server;
  Peer() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client.reset(fds[0]);
    server.reset(fds[1]);
  }
  // Reads one request (headers and a Content-Length body) from the client.
  std::string read_request() {
    std::string data;
    char chunk[4096];
    for (;;) {
      const auto head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const auto cl = data.find("Content-Length: ");
        const std::size_t body = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
        if (data.size() >= head_end + 4 + body) return data;
      }
      const ssize_t n = ::read(server.get(), chunk, sizeof chunk);
      if (n <= 0) return data;
      data.append(chunk, static_cast<std::size_t>(n));
    }
  }
  void write(const std::string& text) {
    ASSERT_EQ(::write(server.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
};

std::string http_ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(OipClient, InferSendsOipV2AndParsesOutputsOverOneConnection) {
  Peer peer;
  std::string first_request;
  std::thread server([&] {
    first_request = peer.read_request();
    const std::string answer = http_ok(R"({"outputs":[{"name":"output-0","data":[0.5,-1.25]}]})");
    peer.write(answer.substr(0, 20));  // split: the client must keep reading
    peer.write(answer.substr(20));
    peer.read_request();
    peer.write(http_ok("{}"));
  });
  OipClient client(std::move(peer.client), milliseconds(5000));
  EXPECT_EQ(client.infer("mlp", {1.0F, 2.0F}), (std::vector<float>{0.5F, -1.25F}));
  EXPECT_TRUE(client.ready());  // same connection, second request
  server.join();
  EXPECT_EQ(first_request.rfind("POST /v2/models/mlp/infer HTTP/1.1\r\n", 0), 0u) << first_request;
  const auto body = nlohmann::json::parse(first_request.substr(first_request.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(body["inputs"][0]["shape"], nlohmann::json({1, 2}));
}

TEST(OipClient, RefusesAnswersWithoutContentLengthOrOutputs) {
  Peer peer;
  std::thread server([&] {
    peer.read_request();
    peer.write("HTTP/1.1 200 OK\r\n\r\n");
  });
  OipClient client(std::move(peer.client), milliseconds(5000));
  EXPECT_THROW(client.get("/v2/health/ready"), Error);
  server.join();

  Peer second;
  std::thread server2([&] {
    second.read_request();
    second.write(http_ok(R"({"model_name":"mlp"})"));
  });
  OipClient client2(std::move(second.client), milliseconds(5000));
  EXPECT_THROW(client2.infer("mlp", {1.0F}), Error);
  server2.join();
}

TEST(OipClient, TimesOutOnASilentServer) {
  Peer peer;
  OipClient client(std::move(peer.client), milliseconds(50));
  EXPECT_THROW(client.get("/v2/health/ready"), Error);
}

}  // namespace
}  // namespace armorbench
