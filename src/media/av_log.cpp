#include "media/av_log.h"

extern "C" {
#include <libavutil/log.h>
}

#include <cstdarg>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dancer::media {
namespace {

std::mutex sink_mutex;
std::shared_ptr<const AvLogSink> current_sink;  // guarded by sink_mutex
std::once_flag callback_installed;

std::shared_ptr<const AvLogSink> load_sink() {
  std::lock_guard lock(sink_mutex);
  return current_sink;
}

// FFmpeg sends a line in fragments (a prefix, then the text, "\n" last), so each thread
// assembles its own: decoder threads log concurrently.
struct PendingLine {
  std::string text;
  int level = AV_LOG_QUIET;  // most severe level of the fragments so far (lower is worse)
  // av_log_format_line2() state: 1 when the next fragment starts a line and needs the
  // "[name @ 0x...] " prefix.
  int print_prefix = 1;
};

thread_local PendingLine pending;

// A line without "\n" that keeps growing (a hostile file's tag printed in pieces) is
// delivered at this size rather than held without bound.
constexpr std::size_t kMaxLineBytes = 16 * 1024;

void deliver(const AvLogSink& sink, std::string_view line, int level) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (!line.empty()) sink(level, line);
}

void flush_complete_lines(const AvLogSink& sink) {
  std::size_t start = 0;
  for (std::size_t newline = pending.text.find('\n'); newline != std::string::npos;
       newline = pending.text.find('\n', start)) {
    deliver(sink, std::string_view(pending.text).substr(start, newline - start), pending.level);
    start = newline + 1;
    pending.level = AV_LOG_QUIET;
  }
  pending.text.erase(0, start);
  if (pending.text.size() >= kMaxLineBytes) {
    deliver(sink, pending.text, pending.level);
    pending.text.clear();
    pending.level = AV_LOG_QUIET;
  }
}

void callback(void* avcl, int level, const char* fmt, va_list vl) {
  // The byte above the level may carry a colour (AV_LOG_C); av_log_default_callback strips
  // it the same way before comparing.
  if (level >= 0) level &= 0xff;
  // FFmpeg's own av_log_default_callback filters by level; a replacement must do it too.
  if (level > av_log_get_level()) return;
  try {
    const std::shared_ptr<const AvLogSink> sink = load_sink();
    // Format even without a sink so print_prefix stays in step with the fragments.
    va_list retry;
    va_copy(retry, vl);
    const int prefix_state = pending.print_prefix;
    char buffer[1024];
    int length =
        av_log_format_line2(avcl, level, fmt, vl, buffer, sizeof buffer, &pending.print_prefix);
    std::string_view text;
    std::vector<char> large;
    if (length >= static_cast<int>(sizeof buffer)) {
      // av_log_format_line2 returns the length it needed (snprintf-like): format again.
      large.resize(static_cast<std::size_t>(length) + 1);
      pending.print_prefix = prefix_state;
      length = av_log_format_line2(avcl, level, fmt, retry, large.data(),
                                   static_cast<int>(large.size()), &pending.print_prefix);
      text = std::string_view(large.data(), length > 0 ? static_cast<std::size_t>(length) : 0);
    } else {
      text = std::string_view(buffer, length > 0 ? static_cast<std::size_t>(length) : 0);
    }
    va_end(retry);
    if (!sink || !*sink) {
      pending.text.clear();
      pending.level = AV_LOG_QUIET;
      return;
    }
    pending.text.append(text);
    if (pending.level == AV_LOG_QUIET || level < pending.level) pending.level = level;
    flush_complete_lines(*sink);
  } catch (...) {
    // Never let an exception unwind into C code; a lost log line is the lesser harm.
    pending.text.clear();
    pending.level = AV_LOG_QUIET;
  }
}

}  // namespace

void install_av_log_sink(AvLogSink sink) {
  auto shared = std::make_shared<const AvLogSink>(std::move(sink));
  {
    std::lock_guard lock(sink_mutex);
    current_sink = std::move(shared);
  }
  std::call_once(callback_installed, [] { av_log_set_callback(callback); });
}

}  // namespace dancer::media
