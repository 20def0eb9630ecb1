// metadata_probe: probes every file named on stdin (one path a line) in process with
// media::probe_file and prints one JSON line per file ({"path": ..., "metadata": ...} or
// {"path": ..., "error": ...}), then {"files": N, "seconds": S} on stderr. bench/bench.py
// times it against one ffprobe process per file and compares the contracted fields.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "media/metadata.h"

int main() {
  std::ios::sync_with_stdio(false);
  std::string path;
  std::size_t files = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::getline(std::cin, path)) {
    if (path.empty()) continue;
    ++files;
    nlohmann::json line = {{"path", path}};
    try {
      line["metadata"] = dancer::media::probe_file(path);
    } catch (const dancer::media::MediaError& e) {
      line["error"] = e.what();
    }
    std::cout << line.dump() << '\n';
  }
  std::cout.flush();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::fprintf(stderr, "{\"files\": %zu, \"seconds\": %.6f}\n", files, elapsed.count());
  return 0;
}
