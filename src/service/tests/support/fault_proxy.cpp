#include "support/fault_proxy.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "support/service_harness.h"

namespace dancer::testing {

FaultProxy::FaultProxy(const std::string& upstream) {
  const std::string script =
      std::string(DANCER_SOURCE_DIR) + "/src/service/tests/support/fault_proxy.py";
  const std::filesystem::path port_file = dir_ / "port";
  const std::filesystem::path log_file = dir_ / "proxy.log";
  pid_ = ServiceHarness::spawn_process(
      {"/usr/bin/python3", script, "--upstream", upstream, "--port-file", port_file.string()},
      log_file);
  // The proxy writes its port atomically once it listens; python may start slowly on a
  // loaded machine, hence the generous bound.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(port_file)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("fault_proxy.py exited: " + read_file(log_file));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("fault_proxy.py did not report its port");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  port_ = std::stoi(read_file(port_file));
  url_ = "http://127.0.0.1:" + std::to_string(port_);
}

FaultProxy::~FaultProxy() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::string FaultProxy::request(const std::string& method, const std::string& path,
                                const std::string& body) {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  httplib::Result result =
      method == "PUT" ? client.Put(path, body, "application/json") : client.Get(path);
  if (!result || result->status != 200) {
    throw std::runtime_error("fault proxy control request " + method + " " + path + " failed");
  }
  return result->body;
}

void FaultProxy::set_rules(const nlohmann::json& rules) {
  request("PUT", "/__faults", rules.dump());
}

nlohmann::json FaultProxy::request_log() {
  return nlohmann::json::parse(request("GET", "/__faults/log", ""));
}

int FaultProxy::count(const nlohmann::json& fields) {
  int matches = 0;
  for (const auto& entry : request_log()) {
    bool all = true;
    for (const auto& [name, value] : fields.items()) {
      if (entry.value(name, nlohmann::json()) != value) all = false;
    }
    if (all) ++matches;
  }
  return matches;
}

nlohmann::json FaultProxy::s3_error(const std::string& method, const std::string& path_prefix,
                                    int status, const std::string& code, int times) {
  // S3's REST error shape: an XML <Error> document with the code.
  return {{"method", method},
          {"path_prefix", path_prefix},
          {"times", times},
          {"action", "status"},
          {"status", status},
          {"content_type", "application/xml"},
          {"body", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                       "</Code><Message>injected by fault_proxy</Message></Error>"}};
}

nlohmann::json FaultProxy::sqs_error(const std::string& target, int status, const std::string& type,
                                     int times) {
  // SQS's JSON protocol error shape: {"__type": "com.amazonaws.sqs#Code", "message": ...}.
  nlohmann::json rule = {{"method", "POST"},
                         {"times", times},
                         {"action", "status"},
                         {"status", status},
                         {"content_type", "application/x-amz-json-1.0"},
                         {"body", nlohmann::json{{"__type", "com.amazonaws.sqs#" + type},
                                                 {"message", "injected by fault_proxy"}}
                                      .dump()}};
  if (!target.empty()) rule["target"] = target;
  return rule;
}

}  // namespace dancer::testing
