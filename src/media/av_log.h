// Routes FFmpeg's log messages (av_log) to a function instead of stderr, one whole line at a
// time. Media knows nothing of the service's logger: the service passes the function.
#pragma once

#include <functional>
#include <string_view>

namespace dancer::media {

// av_level is FFmpeg's (AV_LOG_ERROR, AV_LOG_WARNING, ...; for a line assembled from several
// fragments, the most severe of them); line has FFmpeg's "[h264 @ 0x...] " prefix and no
// trailing newline. Called from whichever thread logged (decoder threads included), possibly
// concurrently: the function must be thread-safe and must not call av_log itself.
using AvLogSink = std::function<void(int av_level, std::string_view line)>;

// Installs the process-wide sink, replacing the previous one; FFmpeg's callback is set once
// (av_log_set_callback). Messages above av_log_get_level() are skipped, as FFmpeg's default
// callback does. An empty sink drops messages (nothing reaches stderr either). Thread-safe.
void install_av_log_sink(AvLogSink sink);

}  // namespace dancer::media
