#include "analysis/outputs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "analysis/analyzer.h"

namespace dancer::analysis {

void DirectoryOutputs::write(const std::string& name, std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const auto path = dir_ / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) throw AnalysisError(AnalysisErrorCode::kInternal, "cannot write " + name);
}

void DescriptorOutputs::write(const std::string& name, std::string_view bytes) {
  auto it = fds_.find(name);
  if (it == fds_.end()) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "no output was opened for " + name);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(it->second, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw AnalysisError(AnalysisErrorCode::kInternal,
                          "cannot write " + name + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace dancer::analysis
