// The guest agent on the host, without a VM: its two virtio-serial ports are stood in for by
// pseudo-terminals in raw mode (byte streams the agent open()s by path, as it does
// /dev/virtio-ports/*). Root is needed for the cgroup it creates under the host's cgroup2 mount.
// Not PID 1 here, the agent exits after `stop` instead of powering off.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "armorbench/base/Base64.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/vms/AgentProtocol.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

// A pty pair in raw mode: the agent opens `path`, the test reads and writes `master`.
struct RawPty {
  UniqueFd master;
  UniqueFd slave;  // held open so the raw settings stay while the agent opens the path
  std::string path;

  RawPty() {
    master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
      throw std::runtime_error("cannot allocate a pty");
    path = ::ptsname(master.get());
    slave.reset(::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    termios raw{};
    ::tcgetattr(slave.get(), &raw);
    ::cfmakeraw(&raw);
    ::tcsetattr(slave.get(), TCSANOW, &raw);
  }
};

// Reads until `needle` has arrived or `timeout` passed; returns what was read.
std::string read_until(int fd, const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string text;
  while (text.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd entry{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

fs::path cgroup2_root() {
  std::ifstream mounts("/proc/mounts");
  std::string device, dir, type;
  std::string rest;
  while (mounts >> device >> dir >> type && std::getline(mounts, rest))
    if (type == "cgroup2") return dir;
  return {};
}

class AgentOnHost : public ::testing::Test {
 protected:
  void start_agent(const std::string& enforcer = "/bin/false") {
    const fs::path mount = cgroup2_root();
    ASSERT_FALSE(mount.empty()) << "no cgroup2 mount";
    // The agent's cgroup root is a cgroup of this test, so whatever it delegates
    // (cgroup.subtree_control) changes nothing of the host's own hierarchy.
    root_ = mount / ("armorbench-agent-test-" + std::to_string(::getpid()));
    ASSERT_TRUE(fs::create_directory(root_) || fs::is_directory(root_));
    const fs::path root = root_;
    cgroup_ = "workload";
    cgroup_dir_ = root / cgroup_;
    agent_.emplace(
        Subprocess::Spec{{ARMORBENCH_GUEST_AGENT, "--agent-port", agent_port_.path, "--http-port",
                          http_port_.path, "--cgroup-root", root.string(), "--enforcer", enforcer},
                         Subprocess::Stdio::kNull,
                         Subprocess::Stdio::kInherit,
                         {}});
    const json hello = next();
    ASSERT_EQ(hello["event"], "hello");
    EXPECT_EQ(hello["protocol"], kAgentProtocolVersion);
    EXPECT_EQ(hello["pid"], agent_->pid());
  }

  void TearDown() override {
    agent_.reset();  // SIGKILL if still running (the workload dies with its process group)
    if (!cgroup_dir_.empty()) {
      // Only once its processes are gone can the cgroup be removed.
      std::ofstream(cgroup_dir_ / "cgroup.kill") << "1";
      for (int i = 0; i < 50 && ::rmdir(cgroup_dir_.c_str()) != 0 && errno == EBUSY; ++i) {
        pollfd none{};
        ::poll(&none, 0, 20);  // bounded: the killed processes leave the cgroup within ms
      }
    }
    if (!root_.empty()) ::rmdir(root_.c_str());
    std::error_code ec;
    fs::remove_all(scratch_, ec);
  }

  void send(json op) {
    const std::string line = to_line(op) + "\n";
    ASSERT_EQ(::write(agent_port_.master.get(), line.data(), line.size()),
              static_cast<ssize_t>(line.size()));
  }

  json next(std::chrono::milliseconds timeout = seconds(20)) {
    const auto line = read_line(agent_port_.master.get(), buffer_, timeout);
    if (!line) throw std::runtime_error("no line from the agent");
    return parse_line(*line);
  }

  // The next message with this event, skipping others (kept out of the way).
  json next_event(const std::string& event) {
    for (int i = 0; i < 20; ++i) {
      json message = next();
      if (message["event"] == event) return message;
    }
    throw std::runtime_error("no " + event + " event");
  }

  RawPty agent_port_;
  RawPty http_port_;
  std::optional<Subprocess> agent_;
  std::string buffer_;
  fs::path root_;
  std::string cgroup_;
  fs::path cgroup_dir_;
  fs::path scratch_ = "/tmp/armorbench-agent-test-" + std::to_string(::getpid());
};

TEST_F(AgentOnHost, RunsAWorkloadInItsCgroupAndRelaysHttp) {
  start_agent();
  const std::string socket = (scratch_ / "http.sock").string();
  StartRequest request;
  request.workload.argv = {
      "/usr/bin/python3", "-c",
      "import http.server, json, os, signal, socketserver, sys\n"
      "signal.signal(signal.SIGTERM, lambda *a: os._exit(0))  # PID 1 ignores what it does not "
      "handle\n"
      "class H(http.server.BaseHTTPRequestHandler):\n"
      "    protocol_version = 'HTTP/1.1'\n"
      "    def log_message(self, *a): pass\n"
      "    def do_GET(self):\n"
      "        status = dict(l.split(':\\t', 1) for l in "
      "open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
      "        try:\n"
      "            open('/sys/fs/cgroup/cgroup.procs', 'w').write(str(os.getpid())); moved = "
      "'moved'\n"
      "        except OSError as e:\n"
      "            moved = e.strerror\n"
      "        b = json.dumps({'pid': os.getpid(), 'cgroup': "
      "open('/proc/self/cgroup').read().strip().splitlines()[-1],\n"
      "                        'cap_eff': status['CapEff'].strip(), 'no_new_privs': "
      "status['NoNewPrivs'].strip(),\n"
      "                        'procs': len([p for p in os.listdir('/proc') if p.isdigit()]), "
      "'move': moved}).encode()\n"
      "        self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
      "        self.end_headers(); self.wfile.write(b)\n"
      "s = socketserver.UnixStreamServer(sys.argv[1], H)\n"
      "print(json.dumps({'event': 'ready', 'env': os.environ.get('CASE')}), flush=True)\n"
      "s.serve_forever()\n",
      socket};
  request.workload.env = {"CASE=agent-unit"};
  request.workload.planted = {{(scratch_ / "token").string(), "secret\n", 0600}};
  request.workload.cgroup = cgroup_;
  request.workload.http_socket = socket;
  json op = encode_start(request);
  op["id"] = 1;
  send(op);
  const json started = next_event("started");
  EXPECT_EQ(started["id"], 1);
  EXPECT_EQ(started["cgroup"], cgroup_dir_.string());
  EXPECT_TRUE(started["enforcer"].is_null());
  const json line = next_event("workload");
  EXPECT_EQ(line["line"]["event"], "ready");
  EXPECT_EQ(line["line"]["env"], "agent-unit");

  // Planted with its mode, and readable through read_file.
  EXPECT_EQ(fs::status(scratch_ / "token").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  send({{"op", "read_file"}, {"id", 2}, {"path", (scratch_ / "token").string()}});
  json file = next_event("file");
  EXPECT_EQ(file["id"], 2);
  EXPECT_EQ(base64_decode(file.value("content_b64", "")), "secret\n");
  send({{"op", "read_file"}, {"id", 3}, {"path", "/nonexistent/file"}});
  file = next_event("file");
  EXPECT_FALSE(file["exists"]);

  // Born in the workload's cgroup (seen from outside: the agent's view).
  const std::string host_view =
      read_whole_file("/proc/" + std::to_string(started["pid"].get<int>()) + "/cgroup");
  EXPECT_NE(host_view.find("/" + root_.filename().string() + "/" + cgroup_), std::string::npos)
      << host_view;
  // HTTP through the relay; the server answers with what it sees of itself: confined as runc
  // confines a container's process.
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int round = 0; round < 3; ++round) {  // one persistent connection, several requests
    ASSERT_EQ(::write(http_port_.master.get(), get.data(), get.size()),
              static_cast<ssize_t>(get.size()));
    const std::string response = read_until(http_port_.master.get(), "}", seconds(10));
    ASSERT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
    const json seen = json::parse(response.substr(response.find('{')), nullptr, false);
    ASSERT_TRUE(seen.is_object()) << response;
    EXPECT_EQ(seen["pid"], 1) << "its own pid namespace: it cannot see or signal the agent";
    EXPECT_EQ(seen["cgroup"], "0::/") << "its own cgroup namespace, rooted at its cgroup";
    EXPECT_EQ(seen["no_new_privs"], "1");
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10): runc's default set.
    EXPECT_EQ(seen["cap_eff"], "0000000020000420");
    EXPECT_EQ(seen["move"], "Read-only file system") << "cgroupfs is read-only to it";
    EXPECT_LE(seen["procs"].get<int>(), 2) << "its /proc shows its own pid namespace only";
  }

  send({{"op", "events"}, {"id", 4}});
  const json events = next_event("enforcer_events");
  EXPECT_TRUE(events["events"].empty());
  EXPECT_FALSE(events["enforcer_running"]);

  send({{"op", "no-such-op"}, {"id", 5}});
  json error = next_event("error");
  EXPECT_EQ(error["id"], 5);
  send({{"op", 42}, {"id", 7}});  // malformed ops get an error reply; the agent lives on
  error = next_event("error");
  EXPECT_EQ(error["id"], 7);
  send({{"op", "events"}, {"id", 8}, {"since", "zero"}});
  error = next_event("error");
  EXPECT_EQ(error["id"], 8);
  const std::string garbage = "not json\n";
  ASSERT_EQ(::write(agent_port_.master.get(), garbage.data(), garbage.size()),
            static_cast<ssize_t>(garbage.size()));
  EXPECT_EQ(next_event("error").value("id", json()), json());

  send({{"op", "stop"}, {"id", 6}, {"grace_s", 5}});
  const json stopped = next_event("stopped");
  EXPECT_EQ(stopped["id"], 6);
  // PID 1 of its pid namespace, it ends on TERM through its own handler (as the model server).
  EXPECT_EQ(stopped["workload_exit"]["code"], 0) << stopped;
  // Not PID 1: the agent exits (0) where the guest would power off.
  const auto status = agent_->wait_for(seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited_ok()) << status->describe();
}

// A measurement tool's workload (armorbench-guest-run --unconfined): as the agent runs, with
// every capability and the agent's namespaces, still born in its cgroup.
TEST_F(AgentOnHost, AnUnconfinedWorkloadRunsAsTheAgentRuns) {
  start_agent();
  StartRequest request;
  request.workload.argv = {
      "/usr/bin/python3", "-c",
      "import json, os\n"
      "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines()"
      " if ':\\t' in l)\n"
      "print(json.dumps({'event': 'ready', 'pid': os.getpid(), 'cap_eff': "
      "status['CapEff'].strip(), 'no_new_privs': status['NoNewPrivs'].strip()}), flush=True)\n"};
  request.workload.cgroup = cgroup_;
  request.workload.unconfined = true;
  json op = encode_start(request);
  op["id"] = 1;
  send(op);
  const json started = next_event("started");
  const json line = next_event("workload");
  EXPECT_EQ(line["line"]["pid"], started["pid"]) << "the agent's pid namespace";
  EXPECT_EQ(line["line"]["no_new_privs"], "0");
  const std::uint64_t caps = std::stoull(line["line"]["cap_eff"].get<std::string>(), nullptr, 16);
  EXPECT_TRUE(caps & (1ULL << 21)) << "CAP_SYS_ADMIN kept: " << line;
  const std::string host_view =
      read_whole_file("/proc/" + std::to_string(started["pid"].get<int>()) + "/cgroup");
  EXPECT_NE(host_view.find("/" + root_.filename().string() + "/" + cgroup_), std::string::npos)
      << host_view;
  next_event("exit");
}

TEST_F(AgentOnHost, ReportsAnEnforcerThatDiesBeforeItsReadyLine) {
  start_agent("/bin/false");
  StartRequest request;
  request.workload.argv = {"/bin/true"};
  request.workload.cgroup = cgroup_;
  request.enforcer.mode = EnforcerMode::kAudit;
  request.enforcer.policies = {"/nonexistent/policy.toml"};
  json op = encode_start(request);
  op["id"] = 1;
  send(op);
  const json error = next_event("error");
  EXPECT_EQ(error["id"], 1);
  EXPECT_EQ(error["stage"], "enforcer");
  EXPECT_EQ(error["enforcer_exit"]["code"], 1) << error;
  // The agent keeps serving after a failed start.
  send({{"op", "stop"}, {"id", 2}});
  const json stopped = next_event("stopped");
  EXPECT_TRUE(stopped["workload_exit"].is_null());
}

TEST_F(AgentOnHost, RefusesAnInvalidStartAndAnUnrunnableWorkload) {
  start_agent();
  send({{"op", "start"}, {"id", 1}, {"workload", {{"argv", {"relative"}}}}});
  json error = next_event("error");
  EXPECT_EQ(error["id"], 1);
  EXPECT_NE(error.value("error", "").find("absolute path"), std::string::npos) << error;

  StartRequest request;
  request.workload.argv = {"/nonexistent/server"};
  request.workload.cgroup = cgroup_;
  json op = encode_start(request);
  op["id"] = 2;
  send(op);
  error = next_event("error");
  EXPECT_EQ(error["stage"], "workload");
  EXPECT_NE(error.value("error", "").find("No such file or directory"), std::string::npos) << error;
}

// A snapshot's warm workload: started by prewarm (confined, in its cgroup, before any start op),
// it reports warm and then runs what the start op names, in the same process; a start op for
// another interpreter or environment is refused. (resume is not tried here: it mounts the guest's
// 9p host root.)
TEST_F(AgentOnHost, PrewarmedWorkloadRunsTheStartOpsArgvInTheSameProcess) {
  start_agent();
  const std::string warm_script =
      "import json, os, sys\n"
      "print(json.dumps({'event': 'warm', 'pid': os.getpid()}), flush=True)\n"
      "argv = json.loads(sys.stdin.readline())\n"
      "print(json.dumps({'event': 'ready', 'pid': os.getpid(), 'argv': argv,\n"
      "                  'cgroup': open('/proc/self/cgroup').read().strip()}), flush=True)\n";
  PrewarmRequest prewarm;
  prewarm.argv = {"/usr/bin/python3", "-c", warm_script};
  prewarm.env = {"PYTHONUNBUFFERED=1"};
  prewarm.cgroup = cgroup_;
  json op = encode_prewarm(prewarm);
  op["id"] = 1;
  send(op);
  const json prewarmed = next_event("prewarmed");
  EXPECT_EQ(prewarmed["id"], 1);
  const int warm_pid = prewarmed.value("pid", 0);
  EXPECT_GT(warm_pid, 0);
  EXPECT_EQ(prewarmed["line"]["event"], "warm");
  EXPECT_NE(read_whole_file(cgroup_dir_ / "cgroup.procs").find(std::to_string(warm_pid)),
            std::string::npos)
      << "the warm workload is in its cgroup before any start";

  StartRequest mismatched;
  mismatched.workload.argv = {"/bin/sh", "server.py"};
  mismatched.workload.env = prewarm.env;
  mismatched.workload.cgroup = cgroup_;
  op = encode_start(mismatched);
  op["id"] = 2;
  send(op);
  json error = next_event("error");
  EXPECT_EQ(error["id"], 2);
  EXPECT_NE(error.value("error", "").find("differ from the warm workload"), std::string::npos)
      << error;

  StartRequest start;
  start.workload.argv = {"/usr/bin/python3", "/srv/model_server.py", "--model", "/m.pt"};
  start.workload.env = prewarm.env;
  start.workload.cgroup = cgroup_;
  op = encode_start(start);
  op["id"] = 3;
  send(op);
  const json started = next_event("started");
  EXPECT_EQ(started["id"], 3);
  EXPECT_EQ(started["pid"], warm_pid) << "the start op hands its argv to the warm process";
  const json ready = next_event("workload");
  EXPECT_EQ(ready["line"]["event"], "ready") << ready;
  EXPECT_EQ(ready["line"]["argv"], json(start.workload.argv));
  const json exit = next_event("exit");
  EXPECT_EQ(exit["status"]["code"], 0) << exit;

  send({{"op", "start"}, {"id", 4}, {"workload", {{"argv", {"/bin/true"}}}}});
  error = next_event("error");
  EXPECT_NE(error.value("error", "").find("already started"), std::string::npos) << error;
}

TEST_F(AgentOnHost, PrewarmFailsWhenTheWarmWorkloadDiesFirst) {
  start_agent();
  PrewarmRequest prewarm;
  prewarm.argv = {"/usr/bin/python3", "-c",
                  "import sys; sys.stderr.write('no torch here'); sys.exit(3)"};
  prewarm.cgroup = cgroup_;
  json op = encode_prewarm(prewarm);
  op["id"] = 1;
  send(op);
  const json error = next_event("error");
  EXPECT_EQ(error["id"], 1);
  EXPECT_EQ(error["op"], "prewarm");
  EXPECT_NE(error.value("error", "").find("exited"), std::string::npos) << error;
  EXPECT_NE(error.value("stderr", "").find("no torch here"), std::string::npos) << error;
}

}  // namespace
}  // namespace armorbench::vms
