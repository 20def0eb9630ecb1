// A fault-injecting HTTP proxy (fault_proxy.py) run as a child process on loopback, so
// the real service can be pointed at S3 and SQS through it (AWS_ENDPOINT_URL_S3/_SQS).
#pragma once

#include <sys/types.h>

#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dancer::testing {

class FaultProxy {
 public:
  // Starts the proxy in front of `upstream` (e.g. the emulator's URL). Throws when it
  // does not report its port within a few seconds.
  explicit FaultProxy(const std::string& upstream);
  ~FaultProxy();  // kills the proxy
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  const std::string& url() const { return url_; }
  // Replaces the rules (see fault_proxy.py for their fields). An empty array: pass through.
  void set_rules(const nlohmann::json& rules);
  // Every request the proxy forwarded or faulted: [{method, path, target, range, action}].
  nlohmann::json request_log();
  // How many logged requests satisfy all given fields (e.g. {{"action","cut"}}).
  int count(const nlohmann::json& fields);

  // Rule builders.
  static nlohmann::json s3_error(const std::string& method, const std::string& path_prefix,
                                 int status, const std::string& code, int times);
  static nlohmann::json sqs_error(const std::string& target, int status, const std::string& type,
                                  int times);

 private:
  std::string request(const std::string& method, const std::string& path, const std::string& body);

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
};

}  // namespace dancer::testing
