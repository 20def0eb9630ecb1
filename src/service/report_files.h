// The modes of the reports and artifacts kept on local disk (REPORT_DIR/job-<uuid>/, `analyze
// --report-dir`): REPORT_FILE_MODE for the files, report_dir_mode() of it for the directories,
// whatever the umask, so a web backend in the service's group can read them.
#pragma once

#include <filesystem>

namespace dancer::service {

// Creates `dir` and its missing parents; the ones created here get `dir_mode`. Directories
// that already exist (REPORT_DIR set up by the operator, the current directory) keep theirs.
// Throws std::filesystem::filesystem_error.
void create_report_directories(const std::filesystem::path& dir, unsigned dir_mode);

// Gives `file` exactly `mode`. Throws std::filesystem::filesystem_error.
void set_report_file_mode(const std::filesystem::path& file, unsigned mode);

}  // namespace dancer::service
