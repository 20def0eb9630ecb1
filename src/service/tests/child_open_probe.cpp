// The service's own sandboxed child (service::run_child, the code `dancer-analysis child`
// runs) with one more mode, built only for tests: `child open-probe --metadata-fd N` reads
// a JSON list of paths from descriptor N (opened by the parent before the sandbox, as it
// passes the probe's metadata) and, inside the same sandbox as a real probe or analysis,
// tries to reach each path every way a compromised child could. It reports every attempt's
// errno (0: it worked) and the first bytes of anything it managed to read.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/child_protocol.h"
#include "common/fd.h"
#include "service/analysis_runner.h"

namespace {

using nlohmann::json;

// errno of a call returning a descriptor (closed at once), or 0; with what it read.
json try_descriptor(long fd) {
  if (fd < 0) return {{"errno", errno}};
  char buffer[64] = {};
  const ssize_t n = ::read(static_cast<int>(fd), buffer, sizeof buffer - 1);
  ::close(static_cast<int>(fd));
  return {{"errno", 0}, {"read", n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : ""}};
}

json attempts_on(const std::string& path) {
  json out;
  out["open"] = try_descriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  out["openat"] = try_descriptor(::openat(AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC));
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  out["openat2"] = try_descriptor(
      ::syscall(SYS_openat2, static_cast<long>(AT_FDCWD), path.c_str(), &how, sizeof how));
  out["open_path"] = try_descriptor(::open(path.c_str(), O_PATH | O_CLOEXEC));
  struct stat st {};
  out["stat"] = {{"errno", ::stat(path.c_str(), &st) == 0 ? 0 : errno}};
  out["access"] = {{"errno", ::access(path.c_str(), R_OK) == 0 ? 0 : errno}};
  return out;
}

std::string open_probe(const dancer::analysis::child_protocol::ChildRequest& request) {
  std::string text;
  if (dancer::common::read_all(request.metadata_fd, text) != 0) {
    throw std::runtime_error("open-probe: cannot read the list of paths");
  }
  json report = json::object();
  for (const auto& path : json::parse(text)) {
    report[path.get<std::string>()] = attempts_on(path.get<std::string>());
  }
  return dancer::analysis::child_protocol::encode_result({{"attempts", report}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "child") return 2;
  return dancer::service::run_child(std::vector<std::string>(argv + 2, argv + argc),
                                    {{"open-probe", open_probe}});
}
