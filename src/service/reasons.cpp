#include "service/reasons.h"

#include <algorithm>
#include <cstdint>
#include <system_error>

#include "common/utf8.h"
#include "service/logging.h"

namespace dancer::service {
namespace {

namespace fs = std::filesystem;

// Characters that end a path inside an error message: white space, quotes, and the
// brackets std::filesystem_error ("[path]") and curl ("(path)") put around paths.
constexpr std::string_view kPathStops = " \t\r\n\"'`,;()[]<>{}";

bool is_path_stop(const std::string& text, std::size_t i) {
  if (kPathStops.find(text[i]) != std::string_view::npos) return true;
  // FFmpeg and libc's perror style: "<path>: <message>".
  return text[i] == ':' && (i + 1 == text.size() || text[i + 1] == ' ');
}

std::size_t path_end(const std::string& text, std::size_t from) {
  while (from < text.size() && !is_path_stop(text, from)) ++from;
  return from;
}

// The spellings under which a path may appear in a message: as configured, lexically
// normalised, and with symlinks resolved (DownloadArea works in the canonical root, and
// /tmp is a symlink on some systems).
std::vector<std::string> spellings(const fs::path& path) {
  std::vector<std::string> out;
  auto add = [&out](std::string text) {
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    if (text.empty() || text == "/" || text == ".") return;
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(std::move(text));
  };
  add(path.string());
  add(path.lexically_normal().string());
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  if (!ec) add(canonical.string());
  return out;
}

enum class Boundary { kAnyTail, kDirectory };

// Replaces each path token starting with `prefix` by replace(token). With kDirectory the
// prefix must be followed by '/' or the end of the path ("/tmp/a" is not in "/tmp/ab").
template <typename Replace>
void replace_paths(std::string& text, const std::string& prefix, Boundary boundary,
                   Replace replace) {
  std::size_t from = 0;
  while (true) {
    const std::size_t start = text.find(prefix, from);
    if (start == std::string::npos) return;
    const std::size_t after = start + prefix.size();
    const bool starts_token = start == 0 || is_path_stop(text, start - 1) ||
                              text[start - 1] == ':' || text[start - 1] == '=';
    const bool ends_well = boundary == Boundary::kAnyTail || after == text.size() ||
                           text[after] == '/' || is_path_stop(text, after);
    if (!starts_token || !ends_well) {
      from = start + 1;
      continue;
    }
    const std::size_t end = path_end(text, after);
    const std::string replacement = replace(std::string_view(text).substr(start, end - start));
    text.replace(start, end - start, replacement);
    from = start + replacement.size();
  }
}

void erase_all(std::string& text, const std::string& needle) {
  if (needle.empty()) return;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at)) {
    text.erase(at, needle.size());
  }
}

void replace_all(std::string& text, const std::string& needle, const std::string& with) {
  if (needle.empty()) return;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + with.size())) {
    text.replace(at, needle.size(), with);
  }
}

// Invalid UTF-8 -> U+FFFD, then control characters and white space runs -> one space.
std::string clean_text(std::string_view raw) {
  const std::string text = common::to_valid_utf8(raw);
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += ch;
  }
  return out;
}

// Cuts valid UTF-8 to at most max_bytes, at a character boundary, marking the cut.
std::string cap(std::string text, std::size_t max_bytes) {
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (text.size() <= max_bytes) return text;
  if (max_bytes < kEllipsis.size()) return {};
  std::size_t cut = max_bytes - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) --cut;
  text.resize(cut);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  text += kEllipsis;
  return text;
}

}  // namespace

std::string user_facing_reason(std::string_view raw, const ReasonContext& ctx) {
  std::string text = redact_secrets(raw);

  if (!ctx.job_file.empty()) {
    // The job file and its siblings ("….part") are what the person uploaded.
    for (const std::string& spelling : spellings(ctx.job_file)) {
      replace_paths(text, spelling, Boundary::kAnyTail,
                    [](std::string_view) { return std::string("the uploaded file"); });
    }
    const std::string name = ctx.job_file.filename().string();
    if (name.size() >= 5) replace_all(text, name, "the uploaded file");
  }

  std::vector<std::string> dirs;
  for (const fs::path& dir : ctx.local_dirs) {
    for (std::string& spelling : spellings(dir)) dirs.push_back(std::move(spelling));
  }
  // Deepest first, so a work dir inside DOWNLOAD_DIR is matched as a whole.
  std::sort(dirs.begin(), dirs.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& dir : dirs) {
    replace_paths(text, dir, Boundary::kDirectory, [&dir](std::string_view token) {
      const bool is_dir = token.size() <= dir.size() + 1;  // the dir, maybe with a '/'
      return std::string(is_dir ? "a local directory" : "a local file");
    });
  }

  std::vector<std::string> ids = ctx.worker_ids;
  std::sort(ids.begin(), ids.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& id : ids) erase_all(text, id);

  return cap(clean_text(text), ctx.max_bytes);
}

}  // namespace dancer::service
