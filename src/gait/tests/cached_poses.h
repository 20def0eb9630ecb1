// The pose track of a shared clip, computed once per build of the test binary and shared by
// its tests. ctest runs each test in a process of its own, so the track is kept on disk in the
// build tree, under a name that changes with the clip and with this executable: a rebuild (a
// change to the pose code included) computes it again.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "pose/pose_tracker.h"

namespace dancer::analysis::testing {

struct CachedPoses {
  std::vector<PoseFrame> poses;
  double fps = 0;
  int width = 0;
  int height = 0;
  double duration_s = 0;
};

namespace detail {

inline std::string identity_of(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  const auto time = std::filesystem::last_write_time(file, ec).time_since_epoch().count();
  return std::to_string(size) + "-" + std::to_string(time);
}

static_assert(std::is_trivially_copyable_v<PoseFrame>);

inline bool load(const std::filesystem::path& path, CachedPoses& out) {
  std::ifstream in(path, std::ios::binary);
  std::size_t n = 0;
  if (!in.read(reinterpret_cast<char*>(&n), sizeof n)) return false;
  if (!in.read(reinterpret_cast<char*>(&out.fps), sizeof out.fps) ||
      !in.read(reinterpret_cast<char*>(&out.width), sizeof out.width) ||
      !in.read(reinterpret_cast<char*>(&out.height), sizeof out.height) ||
      !in.read(reinterpret_cast<char*>(&out.duration_s), sizeof out.duration_s)) {
    return false;
  }
  out.poses.resize(n);
  return static_cast<bool>(in.read(reinterpret_cast<char*>(out.poses.data()),
                                   static_cast<std::streamsize>(n * sizeof(PoseFrame))));
}

inline void save(const std::filesystem::path& path, const CachedPoses& poses) {
  std::filesystem::create_directories(path.parent_path());
  // Written aside and renamed: tests running at once each see a whole file or none.
  const std::filesystem::path part = path.string() + "." + std::to_string(::getpid());
  {
    std::ofstream out(part, std::ios::binary);
    const std::size_t n = poses.poses.size();
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(&poses.fps), sizeof poses.fps);
    out.write(reinterpret_cast<const char*>(&poses.width), sizeof poses.width);
    out.write(reinterpret_cast<const char*>(&poses.height), sizeof poses.height);
    out.write(reinterpret_cast<const char*>(&poses.duration_s), sizeof poses.duration_s);
    out.write(reinterpret_cast<const char*>(poses.poses.data()),
              static_cast<std::streamsize>(n * sizeof(PoseFrame)));
  }
  std::filesystem::rename(part, path);
  // Tracks of earlier builds of this clip (the name up to its '@') are stale: removed.
  const std::string stem = path.stem().string();
  const std::string clip = stem.substr(0, stem.find('@') + 1);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path() != path && name.rfind(clip, 0) == 0 && entry.path().extension() == ".bin") {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

}  // namespace detail

// The default pose model's track of `video` (2 inference threads).
inline const CachedPoses& cached_poses(const std::filesystem::path& video) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, CachedPoses> in_memory;
  const std::lock_guard lock(mutex);
  if (const auto it = in_memory.find(video); it != in_memory.end()) return it->second;
  const std::filesystem::path file = std::filesystem::path(DANCER_BINARY_DIR) / "test-cache" /
                                     "poses" /
                                     (video.stem().string() + "@" + detail::identity_of(video) +
                                      "-" + detail::identity_of("/proc/self/exe") + ".bin");
  CachedPoses out;
  if (!detail::load(file, out)) {
    out = {};
    PoseVideoOptions options;
    options.threads = 2;
    const PoseVideoSummary summary =
        track_video_poses(video, options, [&](const PoseFrame& f) { out.poses.push_back(f); });
    out.fps = summary.info.fps;
    out.width = summary.info.width;
    out.height = summary.info.height;
    out.duration_s = summary.info.duration_s;
    detail::save(file, out);
  }
  return in_memory.emplace(video, std::move(out)).first->second;
}

}  // namespace dancer::analysis::testing
