// Client of the Open Inference Protocol v2 (KServe) REST API over one persistent HTTP/1.1
// connection on any connected stream (a unix socket into a container, a virtio-serial port
// into a VM): the same client and the same latency measurement on every target.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/UniqueFd.h"

namespace armorbench {

struct HttpResponse {
  int status = 0;
  std::string body;
};

class OipClient {
 public:
  OipClient(UniqueFd stream, std::chrono::milliseconds timeout);

  HttpResponse get(const std::string& path);
  HttpResponse post_json(const std::string& path, const nlohmann::json& body);

  bool ready();
  // One inference of a [1, n] FP32 tensor; throws on a transport or protocol error.
  std::vector<float> infer(const std::string& model, const std::vector<float>& input);
  // One inference of declared input tensors (an OIP "inputs" array); returns the "outputs".
  nlohmann::json infer_tensors(const std::string& model, const nlohmann::json& inputs);

 private:
  HttpResponse request(const std::string& method, const std::string& path, const std::string& body);
  void send_all(const std::string& data);
  HttpResponse read_response();

  UniqueFd stream_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

}  // namespace armorbench
