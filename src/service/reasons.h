// Failure reasons stored in jobs.error_message and shown to people (clinicians, support):
// the human sentence of an FFmpeg, curl, SQLite or filesystem error without this
// machine's paths, host name, process id or secrets.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dancer::service {

struct ReasonContext {
  // The downloaded upload (work_dir / "job-<id>-<hash>.<ext>"): it and anything named
  // after it ("….part") become "the uploaded file", its bare file name too.
  std::filesystem::path job_file;
  // Directories whose contents are local detail: the work dir, DOWNLOAD_DIR, REPORT_DIR,
  // the SQLite file's directory, the temp dir. A path inside one becomes "a local file",
  // the directory itself "a local directory".
  std::vector<std::filesystem::path> local_dirs;
  // "<host>-<pid>[-w<n>]" worker and instance ids (removed wherever they appear).
  std::vector<std::string> worker_ids;
  std::size_t max_bytes = 500;  // longer reasons are cut at a UTF-8 boundary and end in "…"
};

// Redacts secrets (redact_secrets), replaces the paths and ids of `ctx`, turns control
// characters and runs of white space into one space, replaces invalid UTF-8 with U+FFFD
// (PostgreSQL rejects it in text columns) and caps the length. Never throws on any input.
std::string user_facing_reason(std::string_view raw, const ReasonContext& ctx);

}  // namespace dancer::service
