#include "service/staging.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>

#include "common/sha256.h"
#include "common/uuid.h"

namespace dancer::service {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifestName = "manifest.json";
constexpr int kManifestVersion = 1;
constexpr std::string_view kJobPrefix = "job-";
constexpr fs::perms kPrivateDir = fs::perms::owner_all;

// fsync of a file or directory by path.
void sync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) throw std::system_error(error, std::generic_category(), "fsync " + path.string());
}

// The staging root and the job's directory in it, both private. Should the root vanish while
// they are made (another worker's area going at shutdown removes it when empty, as earlier
// versions did after every job), creating the job's directory or setting a mode fails with
// ENOENT and the whole is made again.
void make_private_dirs(const fs::path& root, const fs::path& dir) {
  for (int attempt = 1;; ++attempt) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(root, kPrivateDir, fs::perm_options::replace, ec);
    if (!ec) fs::permissions(dir, kPrivateDir, fs::perm_options::replace, ec);
    if (!ec) return;
    if (ec != std::errc::no_such_file_or_directory || attempt == 5) {
      throw fs::filesystem_error("cannot make the staging directory", dir, ec);
    }
  }
}

// Moves a file into `dir` under its own name: a rename on the same file system, else a copy.
void move_into(const fs::path& file, const fs::path& dir) {
  const fs::path target = dir / file.filename();
  std::error_code ec;
  fs::rename(file, target, ec);
  if (!ec) return;
  fs::copy_file(file, target, fs::copy_options::overwrite_existing);
  fs::remove(file, ec);
}

}  // namespace

fs::path StagingArea::dir_for(const std::string& job_uuid) const {
  // The uuid comes from our own database; still, never let it name a path elsewhere.
  if (!common::is_canonical_uuid(job_uuid)) {
    throw std::invalid_argument("staging: not a job uuid: \"" + job_uuid + "\"");
  }
  return root_ / (std::string(kJobPrefix) + job_uuid);
}

StagedJob StagingArea::stage(const std::string& job_uuid, const nlohmann::json& metadata,
                             const nlohmann::json& results, const std::vector<fs::path>& files,
                             double prepared_s) {
  const fs::path dir = dir_for(job_uuid);
  remove(job_uuid);
  make_private_dirs(root_, dir);

  StagedJob staged;
  staged.dir = dir;
  staged.metadata = metadata;
  staged.results = results;
  staged.prepared_s = prepared_s;
  nlohmann::json listed = nlohmann::json::array();
  for (const fs::path& file : files) {
    move_into(file, dir);
    StagedArtifact artifact;
    artifact.name = file.filename().string();
    const common::FileDigest digest = common::sha256_file(dir / artifact.name);
    artifact.size = digest.size;
    artifact.sha256 = digest.sha256;
    sync_path(dir / artifact.name, false);
    listed.push_back(
        {{"name", artifact.name}, {"size_bytes", artifact.size}, {"sha256", artifact.sha256}});
    staged.artifacts.push_back(std::move(artifact));
  }
  const nlohmann::json manifest = {{"manifest_version", kManifestVersion},
                                   {"job_uuid", job_uuid},
                                   {"metadata", metadata},
                                   {"results", results},
                                   {"artifacts", listed},
                                   {"prepared_s", prepared_s}};
  // Written last and renamed into place: a manifest that exists is complete.
  const fs::path temporary = dir / (std::string(kManifestName) + ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << manifest.dump();
    out.close();
    if (!out) throw std::system_error(EIO, std::generic_category(), "write " + temporary.string());
  }
  sync_path(temporary, false);
  fs::rename(temporary, dir / kManifestName);
  sync_path(dir, true);
  sync_path(root_, true);
  return staged;
}

std::optional<StagedJob> StagingArea::find(const std::string& job_uuid) {
  const fs::path dir = dir_for(job_uuid);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  const auto discard = [&](const std::string& why) -> std::optional<StagedJob> {
    spdlog::warn("staged analysis of job {} discarded ({}); it will be redone", job_uuid, why);
    remove(job_uuid);
    return std::nullopt;
  };
  try {
    std::ifstream in(dir / kManifestName, std::ios::binary);
    if (!in) return discard("no manifest: the staging was interrupted");
    const nlohmann::json manifest = nlohmann::json::parse(in);
    if (manifest.value("manifest_version", 0) != kManifestVersion ||
        manifest.value("job_uuid", "") != job_uuid) {
      return discard("manifest of another version or job");
    }
    StagedJob staged;
    staged.dir = dir;
    staged.metadata = manifest.at("metadata");
    staged.results = manifest.at("results");
    staged.prepared_s = manifest.value("prepared_s", 0.0);
    for (const nlohmann::json& listed : manifest.at("artifacts")) {
      StagedArtifact artifact{listed.at("name").get<std::string>(),
                              listed.at("size_bytes").get<std::uint64_t>(),
                              listed.at("sha256").get<std::string>()};
      if (artifact.name.empty() || fs::path(artifact.name).filename() != artifact.name) {
        return discard("manifest names a file outside its directory");
      }
      const common::FileDigest digest = common::sha256_file(dir / artifact.name);
      if (digest.size != artifact.size || digest.sha256 != artifact.sha256) {
        return discard(artifact.name + " changed since it was staged");
      }
      staged.artifacts.push_back(std::move(artifact));
    }
    return staged;
  } catch (const std::exception& e) {
    return discard(e.what());
  }
}

StagingArea::~StagingArea() {
  std::error_code ec;
  fs::remove(root_, ec);  // fails harmlessly (ENOTEMPTY) while a job is staged
}

void StagingArea::remove(const std::string& job_uuid) noexcept {
  try {
    std::error_code ec;
    // The root stays until the area goes (~StagingArea): removed whenever it was found empty,
    // it vanished under another worker (of this or another service on the same DOWNLOAD_DIR)
    // between its creation and that of that worker's job directory, and the job failed.
    fs::remove_all(dir_for(job_uuid), ec);
  } catch (const std::exception&) {
    // Not a uuid: nothing of ours to remove.
  }
}

int StagingArea::sweep_expired(std::chrono::seconds max_age) noexcept {
  int removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, kJobPrefix.size(), kJobPrefix) != 0 ||
        !common::is_canonical_uuid(name.substr(kJobPrefix.size()))) {
      continue;  // not a staged job
    }
    std::error_code time_ec;
    if (entry.symlink_status(time_ec).type() != fs::file_type::directory) continue;
    auto modified = fs::last_write_time(entry.path() / kManifestName, time_ec);
    if (time_ec) modified = fs::last_write_time(entry.path(), time_ec);
    if (time_ec || now - modified <= max_age) continue;
    std::error_code remove_ec;
    fs::remove_all(entry.path(), remove_ec);
    if (!remove_ec) ++removed;
  }
  return removed;
}

}  // namespace dancer::service
