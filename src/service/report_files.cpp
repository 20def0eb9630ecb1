#include "service/report_files.h"

#include <vector>

namespace dancer::service {

void create_report_directories(const std::filesystem::path& dir, unsigned dir_mode) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = dir; !p.empty() && !std::filesystem::exists(p);
       p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::filesystem::create_directories(dir);
  for (const std::filesystem::path& p : missing) {
    std::filesystem::permissions(p, static_cast<std::filesystem::perms>(dir_mode),
                                 std::filesystem::perm_options::replace);
  }
}

void set_report_file_mode(const std::filesystem::path& file, unsigned mode) {
  std::filesystem::permissions(file, static_cast<std::filesystem::perms>(mode),
                               std::filesystem::perm_options::replace);
}

}  // namespace dancer::service
