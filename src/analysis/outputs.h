// Where an analyzer writes the files it produces (report.html, ...). In the sandboxed child
// the parent opened each file and passed its descriptor, because the child may not open
// files for writing (sandbox.h); in process they go to a directory.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace dancer::analysis {

class OutputFiles {
 public:
  virtual ~OutputFiles() = default;
  // Whether `name` can be written (the parent may offer only some files).
  virtual bool accepts(const std::string& name) const = 0;
  // Writes the whole file. Throws AnalysisError(kInternal) when it cannot.
  virtual void write(const std::string& name, std::string_view bytes) = 0;
};

// Files in a directory (created on first write).
class DirectoryOutputs final : public OutputFiles {
 public:
  explicit DirectoryOutputs(std::filesystem::path dir) : dir_(std::move(dir)) {}
  bool accepts(const std::string&) const override { return true; }
  void write(const std::string& name, std::string_view bytes) override;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// Descriptors opened by the parent, by file name ("report.html" -> 3). Writes from the
// current offset; the descriptors stay owned by the process (closed at exit).
class DescriptorOutputs final : public OutputFiles {
 public:
  explicit DescriptorOutputs(std::map<std::string, int> fds) : fds_(std::move(fds)) {}
  bool accepts(const std::string& name) const override { return fds_.count(name) > 0; }
  void write(const std::string& name, std::string_view bytes) override;

 private:
  std::map<std::string, int> fds_;
};

}  // namespace dancer::analysis
