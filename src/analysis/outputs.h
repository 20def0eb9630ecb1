// Where an analyzer writes the files it produces (report.html, ...). In the sandboxed child
// the parent opened each file and passed its descriptor, because the child may not open
// files for writing (sandbox.h); in process they go to a directory.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dancer::analysis {

// The files an analysis may produce for a job (its artifacts), by name.
struct ArtifactSpec {
  const char* name;
  const char* content_type;
  bool seekable;  // written through OutputFiles::descriptor (opened for reading and writing)
};
inline constexpr ArtifactSpec kReportArtifact{"report.html", "text/html; charset=utf-8", false};
inline constexpr ArtifactSpec kOverlayArtifact{"overlay.mp4", "video/mp4", true};
inline constexpr ArtifactSpec kStridesArtifact{"strides.csv", "text/csv; charset=utf-8", false};
// RFC 6838 media type registered for FHIR JSON (HL7 FHIR R4, http.html#mime-type).
inline constexpr ArtifactSpec kFhirArtifact{"fhir.json", "application/fhir+json", false};
// The web-playable copy of the upload and its poster frame (media/proxy.h), made for every
// upload with a video stream, whatever the analyzer.
inline constexpr ArtifactSpec kProxyArtifact{"proxy.mp4", "video/mp4", true};
inline constexpr ArtifactSpec kPosterArtifact{"poster.jpg", "image/jpeg", false};
inline constexpr ArtifactSpec kArtifacts[] = {kReportArtifact, kOverlayArtifact, kStridesArtifact,
                                              kFhirArtifact,   kProxyArtifact,   kPosterArtifact};
// The spec of `name`, or null.
const ArtifactSpec* find_artifact(std::string_view name);

class OutputFiles {
 public:
  virtual ~OutputFiles() = default;
  // Whether `name` can be written (the parent may offer only some files).
  virtual bool accepts(const std::string& name) const = 0;
  // Writes the whole file. Throws AnalysisError(kInternal) when it cannot.
  virtual void write(const std::string& name, std::string_view bytes) = 0;

  // For writers that seek and read back what they wrote (the MP4 muxer moves its index to the
  // front, FFmpeg's "faststart"; media::VideoEncoder reads it back with pread on the same
  // descriptor): a descriptor of an empty file open for reading and writing, owned here. Null
  // when `name` is not accepted. Throws AnalysisError(kInternal).
  virtual std::optional<int> descriptor(const std::string& name) = 0;
};

// Files in a directory (created on first write).
class DirectoryOutputs final : public OutputFiles {
 public:
  explicit DirectoryOutputs(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~DirectoryOutputs() override;
  DirectoryOutputs(const DirectoryOutputs&) = delete;
  DirectoryOutputs& operator=(const DirectoryOutputs&) = delete;
  bool accepts(const std::string&) const override { return true; }
  void write(const std::string& name, std::string_view bytes) override;
  std::optional<int> descriptor(const std::string& name) override;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::map<std::string, int> opened_;  // closed with the object
};

// Descriptors opened by the parent, by file name ("report.html" -> 3). Writes from the
// current offset; the descriptors stay owned by the process (closed at exit).
class DescriptorOutputs final : public OutputFiles {
 public:
  explicit DescriptorOutputs(std::map<std::string, int> fds) : fds_(std::move(fds)) {}
  bool accepts(const std::string& name) const override { return fds_.count(name) > 0; }
  void write(const std::string& name, std::string_view bytes) override;
  // The inherited descriptor (the parent opens seekable outputs O_RDWR).
  std::optional<int> descriptor(const std::string& name) override;

 private:
  std::map<std::string, int> fds_;
};

}  // namespace dancer::analysis
