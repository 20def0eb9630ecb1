#include "analysis/outputs.h"

#include <fcntl.h>
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

const ArtifactSpec* find_artifact(std::string_view name) {
  for (const ArtifactSpec& spec : kArtifacts) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

DirectoryOutputs::~DirectoryOutputs() {
  for (const auto& [name, fd] : opened_) ::close(fd);
}

std::optional<int> DirectoryOutputs::descriptor(const std::string& name) {
  if (auto it = opened_.find(name); it != opened_.end()) return it->second;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const auto path = dir_ / name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw AnalysisError(AnalysisErrorCode::kInternal,
                        "cannot create " + name + ": " + std::strerror(errno));
  }
  opened_[name] = fd;
  return fd;
}

std::optional<int> DescriptorOutputs::descriptor(const std::string& name) {
  auto it = fds_.find(name);
  if (it == fds_.end()) return std::nullopt;
  return it->second;
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
