// Line-framed JSON over TCP for the Stratum miner and fake pool.
#include "armorbench/attacks/JsonLineConnection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace armorbench::attacks {
namespace {

using Clock = std::chrono::steady_clock;

struct AddrinfoDeleter {
  void operator()(addrinfo* info) const { ::freeaddrinfo(info); }
};

int poll_timeout_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::max<std::int64_t>(0, timeout.count()));
}

std::system_error errno_error(int err, const std::string& what) {
  return std::system_error(err, std::generic_category(), what);
}

// Non-blocking connect so the deadline holds even when SYNs are dropped.
UniqueFd connect_one(const addrinfo& ai, Clock::time_point deadline, int& error) {
  UniqueFd fd(
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai.ai_protocol));
  if (!fd) {
    error = errno;
    return {};
  }
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      error = errno;
      return {};
    }
    pollfd pfd{fd.get(), POLLOUT, 0};
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const int ready = ::poll(&pfd, 1, poll_timeout_ms(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) {
        error = errno;
        return {};
      }
      if (ready == 0) {
        error = ETIMEDOUT;
        return {};
      }
      break;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      error = so_error;
      return {};
    }
  }
  // Back to blocking: sends are small and the reader uses poll for its deadlines.
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

JsonLineConnection JsonLineConnection::connect_tcp(const std::string& host, std::uint16_t port,
                                                   std::chrono::milliseconds timeout,
                                                   std::string& stage) {
  const auto deadline = Clock::now() + timeout;
  stage = "resolve";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw); rc != 0) {
    const int err = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
    throw errno_error(err, "resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, AddrinfoDeleter> addresses(raw);
  stage = "connect";
  int error = EHOSTUNREACH;
  for (const addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
    if (UniqueFd fd = connect_one(*ai, deadline, error)) return JsonLineConnection(std::move(fd));
  }
  throw errno_error(error, "connect " + host + ":" + service);
}

void JsonLineConnection::send(const nlohmann::json& message) {
  const std::string line = message.dump() + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    // MSG_NOSIGNAL: a peer that hung up must give EPIPE here, not kill us with SIGPIPE.
    const ssize_t n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error(errno, "send");
    }
    sent += static_cast<std::size_t>(n);
  }
}

bool JsonLineConnection::pull(std::chrono::milliseconds timeout) {
  if (eof_) return false;
  pollfd pfd{fd_.get(), POLLIN, 0};
  const int ready = ::poll(&pfd, 1, poll_timeout_ms(timeout));
  if (ready < 0) {
    if (errno == EINTR) return false;
    throw errno_error(errno, "poll");
  }
  if (ready == 0) return false;
  char buf[16384];
  const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return false;
    throw errno_error(errno, "recv");
  }
  if (n == 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  if (buffer_.size() > kMaxLine && buffer_.find('\n') == std::string::npos) {
    throw errno_error(EMSGSIZE, "line longer than " + std::to_string(kMaxLine) + " bytes");
  }
  return true;
}

std::optional<std::string> JsonLineConnection::take_line() {
  const auto nl = buffer_.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buffer_.substr(0, nl);
  buffer_.erase(0, nl + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<nlohmann::json> JsonLineConnection::receive(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto line = take_line()) {
      if (line->empty()) continue;
      return nlohmann::json::parse(*line);
    }
    if (eof_) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // Nothing pulled means timeout, EOF or a signal: in each case the caller re-checks its
    // deadline and stop flag before waiting again.
    if (!pull(std::max(left, std::chrono::milliseconds(0)))) return std::nullopt;
  }
}

}  // namespace armorbench::attacks
