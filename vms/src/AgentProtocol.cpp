// Encoding and validation of agent protocol messages.
#include "armorbench/vms/AgentProtocol.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "armorbench/base/Base64.h"
#include "armorbench/base/Error.h"

namespace armorbench::vms {
namespace {

using nlohmann::json;

// Reads an optional field of a given JSON type; throws an input Error naming it otherwise.
// Numbers are checked before conversion: nlohmann converts a float or a boolean to an integer
// field silently (and a float out of the integer's range is undefined behaviour), so an integer
// field takes only an integer that fits, a floating field only a number, a boolean only a boolean.
template <typename T>
std::optional<T> field(const json& object, const char* context, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  const auto wrong = [&](const char* why) {
    return input_error(std::string(context) + "." + key + " " + why + " (" + it->type_name() + " " +
                       it->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40) +
                       ")");
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) throw wrong("must be true or false");
    return it->get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (it->is_number_unsigned()) {
      const auto value = it->get<std::uint64_t>();
      if (!std::in_range<T>(value)) throw wrong("is out of range");
      return static_cast<T>(value);
    }
    if (it->is_number_integer()) {
      const auto value = it->get<std::int64_t>();
      if (!std::in_range<T>(value)) throw wrong("is out of range");
      return static_cast<T>(value);
    }
    throw wrong("must be an integer");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) throw wrong("must be a number");
    return it->get<T>();
  } else {
    try {
      return it->get<T>();
    } catch (const json::exception&) {
      throw wrong("has the wrong type");
    }
  }
}

std::vector<std::string> strings(const json& object, const char* context, const char* key) {
  return field<std::vector<std::string>>(object, context, key).value_or(std::vector<std::string>{});
}

}  // namespace

bool plantable_path(std::string_view path) {
  if (!(path.starts_with("/tmp/") || path.starts_with("/run/") || path.starts_with("/dev/")))
    return false;
  // Normalised: no empty, "." or ".." components, so the prefix check cannot be escaped.
  std::size_t begin = 1;
  while (begin <= path.size()) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    const std::string_view part = path.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") return false;
    begin = end + 1;
  }
  return true;
}

bool valid_cgroup_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 64) return false;
  for (const char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

json encode_start(const StartRequest& request) {
  json planted = json::array();
  for (const PlantedFile& file : request.workload.planted)
    planted.push_back(
        {{"path", file.path}, {"content_b64", base64_encode(file.content)}, {"mode", file.mode}});
  json limits = json::object();
  const WorkloadLimits& l = request.workload.limits;
  if (l.cpus) limits["cpus"] = *l.cpus;
  if (l.memory_bytes) limits["memory_bytes"] = *l.memory_bytes;
  if (l.pids) limits["pids"] = *l.pids;
  return {{"op", "start"},
          {"workload",
           {{"argv", request.workload.argv},
            {"env", request.workload.env},
            {"planted", planted},
            {"cgroup", request.workload.cgroup},
            {"http_socket", request.workload.http_socket},
            {"limits", limits},
            {"unconfined", request.workload.unconfined}}},
          {"enforcer",
           {{"mode", to_string(request.enforcer.mode)},
            {"policies", request.enforcer.policies},
            {"backend", to_string(request.enforcer.backend)},
            {"watch_exec", request.enforcer.watch_exec},
            {"default_posture", to_string(request.enforcer.default_posture)},
            {"ready_timeout_s", request.enforcer.ready_timeout_s}}}};
}

StartRequest decode_start(const json& op) {
  StartRequest request;
  const auto workload = op.find("workload");
  if (workload == op.end() || !workload->is_object())
    throw input_error("start: 'workload' must be an object");
  WorkloadRequest& w = request.workload;
  w.argv = strings(*workload, "workload", "argv");
  if (w.argv.empty() || w.argv[0].empty() || w.argv[0][0] != '/')
    throw input_error("workload.argv must start with an absolute path");
  w.env = strings(*workload, "workload", "env");
  for (const std::string& entry : w.env)
    if (entry.find('=') == std::string::npos || entry.front() == '=')
      throw input_error("workload.env entry '" + entry + "' is not NAME=value");
  w.cgroup = field<std::string>(*workload, "workload", "cgroup").value_or("workload");
  if (!valid_cgroup_name(w.cgroup))
    throw input_error("workload.cgroup '" + w.cgroup + "' is not a single cgroup name");
  w.http_socket = field<std::string>(*workload, "workload", "http_socket").value_or("");
  w.unconfined = field<bool>(*workload, "workload", "unconfined").value_or(false);
  if (!w.http_socket.empty() && w.http_socket.front() != '/')
    throw input_error("workload.http_socket must be an absolute path");
  if (const auto planted = workload->find("planted");
      planted != workload->end() && !planted->is_null()) {
    if (!planted->is_array()) throw input_error("workload.planted must be an array");
    for (const json& entry : *planted) {
      if (!entry.is_object()) throw input_error("workload.planted entries must be objects");
      PlantedFile file;
      file.path = field<std::string>(entry, "planted", "path").value_or("");
      if (!plantable_path(file.path))
        throw input_error("planted path '" + file.path +
                          "' must be a normalised path below /tmp, /run or /dev");
      const auto content =
          base64_decode(field<std::string>(entry, "planted", "content_b64").value_or(""));
      if (!content) throw input_error("planted.content_b64 of " + file.path + " is not base64");
      file.content = *content;
      file.mode = field<unsigned>(entry, "planted", "mode").value_or(0644) & 07777;
      w.planted.push_back(std::move(file));
    }
  }

  if (const auto limits = workload->find("limits");
      limits != workload->end() && !limits->is_null()) {
    if (!limits->is_object()) throw input_error("workload.limits must be an object");
    WorkloadLimits& l = w.limits;
    l.cpus = field<double>(*limits, "limits", "cpus");
    l.memory_bytes = field<std::uint64_t>(*limits, "limits", "memory_bytes");
    l.pids = field<std::int64_t>(*limits, "limits", "pids");
    if ((l.cpus && !(*l.cpus > 0)) || (l.memory_bytes && *l.memory_bytes == 0) ||
        (l.pids && *l.pids <= 0))
      throw input_error("workload.limits must be positive");
  }

  if (const auto enforcer = op.find("enforcer"); enforcer != op.end() && !enforcer->is_null()) {
    if (!enforcer->is_object()) throw input_error("start: 'enforcer' must be an object");
    EnforcerRequest& e = request.enforcer;
    const std::string mode = field<std::string>(*enforcer, "enforcer", "mode").value_or("off");
    const auto parsed = enforcer_mode_from_string(mode);
    if (!parsed) throw input_error("enforcer.mode '" + mode + "' is not off, audit or block");
    e.mode = *parsed;
    e.policies = strings(*enforcer, "enforcer", "policies");
    const std::string backend =
        field<std::string>(*enforcer, "enforcer", "backend").value_or("auto");
    const auto parsed_backend = backend_from_string(backend);
    if (!parsed_backend)
      throw input_error("enforcer.backend '" + backend + "' is not auto, tracepoint or bpf-lsm");
    e.backend = *parsed_backend;
    e.watch_exec = field<bool>(*enforcer, "enforcer", "watch_exec").value_or(false);
    const std::string posture =
        field<std::string>(*enforcer, "enforcer", "default_posture").value_or("block");
    const auto parsed_posture = default_posture_from_string(posture);
    if (!parsed_posture)
      throw input_error("enforcer.default_posture '" + posture + "' is not block or audit");
    e.default_posture = *parsed_posture;
    e.ready_timeout_s = field<double>(*enforcer, "enforcer", "ready_timeout_s").value_or(60);
    if (!(e.ready_timeout_s > 0)) throw input_error("enforcer.ready_timeout_s must be positive");
    if (e.mode != EnforcerMode::kOff && e.policies.empty())
      throw input_error("enforcer.mode " + mode + " needs at least one policy");
  }
  return request;
}

json encode_prewarm(const PrewarmRequest& request) {
  return {{"op", "prewarm"},
          {"argv", request.argv},
          {"env", request.env},
          {"cgroup", request.cgroup},
          {"ready_timeout_s", request.ready_timeout_s}};
}

PrewarmRequest decode_prewarm(const json& op) {
  PrewarmRequest request;
  request.argv = strings(op, "prewarm", "argv");
  if (request.argv.empty() || request.argv[0].empty() || request.argv[0][0] != '/')
    throw input_error("prewarm.argv must start with an absolute path");
  request.env = strings(op, "prewarm", "env");
  for (const std::string& entry : request.env)
    if (entry.find('=') == std::string::npos || entry.front() == '=')
      throw input_error("prewarm.env entry '" + entry + "' is not NAME=value");
  request.cgroup = field<std::string>(op, "prewarm", "cgroup").value_or("workload");
  if (!valid_cgroup_name(request.cgroup))
    throw input_error("prewarm.cgroup '" + request.cgroup + "' is not a single cgroup name");
  request.ready_timeout_s = field<double>(op, "prewarm", "ready_timeout_s").value_or(300);
  if (!(request.ready_timeout_s > 0)) throw input_error("prewarm.ready_timeout_s must be positive");
  return request;
}

json encode_resume(const ResumeRequest& request) {
  return {{"op", "resume"},
          {"unix_time_ns", request.unix_time_ns},
          {"entropy_b64", base64_encode(request.entropy)},
          {"enforcer", request.enforcer}};
}

ResumeRequest decode_resume(const json& op) {
  ResumeRequest request;
  request.unix_time_ns = field<std::int64_t>(op, "resume", "unix_time_ns").value_or(0);
  if (request.unix_time_ns <= 0) throw input_error("resume.unix_time_ns must be positive");
  const auto entropy = base64_decode(field<std::string>(op, "resume", "entropy_b64").value_or(""));
  if (!entropy) throw input_error("resume.entropy_b64 is not base64");
  if (entropy->size() < 32 || entropy->size() > 4096)
    throw input_error("resume.entropy_b64 must hold 32 to 4096 bytes");
  request.entropy = *entropy;
  request.enforcer = field<std::string>(op, "resume", "enforcer").value_or("");
  if (!request.enforcer.empty() && request.enforcer.front() != '/')
    throw input_error("resume.enforcer must be an absolute path");
  return request;
}

std::string to_line(const json& message) {
  // Replacement of invalid UTF-8 keeps one odd byte in a workload's output from killing the line.
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_line(std::string_view line) {
  json message = json::parse(line, nullptr, false);
  if (message.is_discarded() || !message.is_object())
    throw harness_error("agent protocol: not a JSON object: " + std::string(line.substr(0, 200)));
  return message;
}

std::optional<std::uint64_t> message_id(const json& message) {
  const auto it = message.find("id");
  if (it == message.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

}  // namespace armorbench::vms
