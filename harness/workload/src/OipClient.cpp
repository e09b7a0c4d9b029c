// Minimal HTTP/1.1 client (Content-Length bodies, keep-alive) and OIP v2 JSON mapping.
#include "armorbench/workload/OipClient.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "armorbench/base/Error.h"
#include "armorbench/base/Interrupt.h"

namespace armorbench {
namespace {

constexpr std::size_t kMaxBody = 64u << 20;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

OipClient::OipClient(UniqueFd stream, std::chrono::milliseconds timeout)
    : stream_(std::move(stream)), timeout_(timeout) {}

void OipClient::send_all(const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(stream_.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOTSOCK) {  // a character device (virtio-serial), not a socket
      const ssize_t w = ::write(stream_.get(), data.data() + sent, data.size() - sent);
      if (w < 0) throw harness_error(std::string("write to model server: ") + strerror(errno));
      sent += static_cast<std::size_t>(w);
      continue;
    }
    if (n < 0) throw harness_error(std::string("send to model server: ") + strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
}

HttpResponse OipClient::read_response() {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto fill = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{stream_.get(), POLLIN, 0};
    if (left.count() <= 0 || poll_interruptible(&pfd, 1, left) == 0)
      throw harness_error("model server did not answer within " + std::to_string(timeout_.count()) +
                          " ms");
    char chunk[65536];
    const ssize_t n = ::read(stream_.get(), chunk, sizeof chunk);
    if (n == 0) throw harness_error("model server closed the connection");
    if (n < 0 && errno != EINTR)
      throw harness_error(std::string("read from model server: ") + strerror(errno));
    if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
  };
  std::size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > 65536) throw harness_error("model server sent an oversized header");
    fill();
  }
  HttpResponse response;
  const std::string head = buffer_.substr(0, header_end);
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12)
    throw harness_error("model server sent a malformed status line");
  response.status = std::atoi(head.c_str() + 9);
  std::size_t content_length = std::string::npos;
  std::size_t line_start = head.find("\r\n");
  while (line_start != std::string::npos) {
    line_start += 2;
    const std::size_t line_end = head.find("\r\n", line_start);
    const std::string line = head.substr(line_start, line_end - line_start);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == "content-length")
      content_length = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
    line_start = line_end;
  }
  if (content_length == std::string::npos || content_length > kMaxBody)
    throw harness_error("model server response lacks a usable Content-Length");
  buffer_.erase(0, header_end + 4);
  while (buffer_.size() < content_length) fill();
  response.body = buffer_.substr(0, content_length);
  buffer_.erase(0, content_length);
  return response;
}

HttpResponse OipClient::request(const std::string& method, const std::string& path,
                                const std::string& body) {
  std::string message = method + " " + path + " HTTP/1.1\r\nHost: model-server\r\n";
  if (!body.empty() || method == "POST")
    message +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  message += "\r\n" + body;
  send_all(message);
  return read_response();
}

HttpResponse OipClient::get(const std::string& path) {
  return request("GET", path, "");
}

HttpResponse OipClient::post_json(const std::string& path, const nlohmann::json& body) {
  return request("POST", path, body.dump());
}

bool OipClient::ready() {
  return get("/v2/health/ready").status == 200;
}

std::vector<float> OipClient::infer(const std::string& model, const std::vector<float>& input) {
  const nlohmann::json inputs = {
      {{"name", "input-0"}, {"shape", {1, input.size()}}, {"datatype", "FP32"}, {"data", input}}};
  const nlohmann::json outputs = infer_tensors(model, inputs);
  try {
    return outputs[0].at("data").get<std::vector<float>>();
  } catch (const nlohmann::json::exception&) {
    // The server under test may be tampered with: a malformed answer is a wrong answer.
    throw harness_error("inference output is not a list of numbers: " + outputs.dump().substr(0, 200));
  }
}

nlohmann::json OipClient::infer_tensors(const std::string& model, const nlohmann::json& inputs) {
  const HttpResponse response =
      post_json("/v2/models/" + model + "/infer", nlohmann::json{{"inputs", inputs}});
  if (response.status != 200)
    throw harness_error("inference answered HTTP " + std::to_string(response.status) + ": " +
                        response.body.substr(0, 200));
  const auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("outputs") ||
      !json["outputs"].is_array() || json["outputs"].empty())
    throw harness_error("inference response is not OIP v2 JSON: " + response.body.substr(0, 200));
  for (const auto& output : json["outputs"])
    if (!output.is_object() || !output.contains("data") || !output["data"].is_array())
      throw harness_error("inference response has an output without data: " +
                          response.body.substr(0, 200));
  return json["outputs"];
}

}  // namespace armorbench
