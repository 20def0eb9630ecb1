#include "silhouette/gait_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "media/png_encoder.h"

namespace dancer::analysis {
namespace {

std::string escape_html(const std::string& s) { return common::escape_markup(s); }

std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "&ndash;";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
    return buf;
  }
  if (v.is_string()) return escape_html(v.get<std::string>());
  return escape_html(v.dump());
}

std::string signal_svg(const std::vector<double>& t, const std::vector<double>& y,
                       const nlohmann::json& steps) {
  constexpr double kW = 900;
  constexpr double kH = 220;
  constexpr double kPad = 30;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kW << "' height='" << kH
      << "' viewBox='0 0 " << kW << ' ' << kH << "'>"
      << "<rect width='100%' height='100%' fill='#fafafa' stroke='#ccc'/>";
  if (t.empty()) return svg.str() + "</svg>";
  const double t0 = t.front();
  const double t1 = std::max(t.back(), t0 + 1e-3);
  double lo = 1e9;
  double hi = -1e9;
  for (double v : y) {
    if (std::isnan(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (hi <= lo) {
    lo = 0;
    hi = 1;
  }
  const auto px = [&](double time) { return kPad + (time - t0) / (t1 - t0) * (kW - 2 * kPad); };
  const auto py = [&](double v) { return kH - kPad - (v - lo) / (hi - lo) * (kH - 2 * kPad); };
  for (const auto& s : steps) {
    const double x = px(s.value("time_s", 0.0));
    svg << "<line x1='" << x << "' y1='" << kPad / 2 << "' x2='" << x << "' y2='" << kH - kPad
        << "' stroke='#d33' stroke-width='1.5'/>";
  }
  svg << "<path fill='none' stroke='#2a6ebb' stroke-width='1.5' d='";
  bool pen_down = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (std::isnan(y[i])) {
      pen_down = false;
      continue;
    }
    svg << (pen_down ? 'L' : 'M') << px(t[i]) << ',' << py(y[i]) << ' ';
    pen_down = true;
  }
  svg << "'/><text x='" << kPad << "' y='" << kH - 8 << "' font-size='12'>" << t0 << " s</text>"
      << "<text x='" << kW - kPad - 40 << "' y='" << kH - 8 << "' font-size='12'>" << t1
      << " s</text><text x='" << kPad << "' y='14' font-size='12'>leg spread / body height "
      << "(blue), detected heel strikes (red)</text></svg>";
  return svg.str();
}

}  // namespace

void KeyFrameSampler::offer(const cv::Mat& gray, const cv::Rect& person, double time_s,
                            long frame) {
  if (offered_++ % stride_ != 0) return;
  KeyFrame k;
  const double scale = std::min(1.0, 200.0 / gray.cols);
  cv::resize(gray, k.gray, cv::Size(), scale, scale, cv::INTER_AREA);
  const cv::Rect box(static_cast<int>(person.x * scale), static_cast<int>(person.y * scale),
                     static_cast<int>(person.width * scale),
                     static_cast<int>(person.height * scale));
  cv::rectangle(k.gray, box, cv::Scalar(255), 1);
  k.time_s = time_s;
  k.frame = frame;
  kept_.push_back(std::move(k));
  if (kept_.size() >= 2 * count_) {
    std::vector<KeyFrame> halved;
    for (std::size_t i = 0; i < kept_.size(); i += 2) halved.push_back(std::move(kept_[i]));
    kept_ = std::move(halved);
    stride_ *= 2;
  }
}

std::vector<KeyFrame> KeyFrameSampler::frames() const {
  if (kept_.size() <= count_) return kept_;
  std::vector<KeyFrame> out;
  for (std::size_t i = 0; i < count_; ++i) out.push_back(kept_[i * kept_.size() / count_]);
  return out;
}

std::string encode_png(const cv::Mat& gray) {
  if (gray.type() != CV_8UC1 || gray.empty()) {
    throw std::runtime_error("encode_png: needs 8-bit gray");
  }
  return media::encode_png(gray.data, gray.cols, gray.rows, static_cast<int>(gray.step),
                           media::PixelLayout::kGray8);
}

std::string render_gait_report(const nlohmann::json& analysis, const nlohmann::json& metadata,
                               const std::vector<double>& times_s,
                               const std::vector<double>& gait_signal,
                               const std::vector<KeyFrame>& key_frames) {
  std::ostringstream html;
  html << "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
       << "<title>Gait report</title><style>body{font-family:sans-serif;margin:24px;color:#222}"
       << "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;"
       << "text-align:left}.warn{color:#a40}figure{display:inline-block;margin:4px}</style></head>"
       << "<body><h1>Gait report</h1>";
  const auto analyzer = analysis.value("analyzer", nlohmann::json::object());
  html << "<p>Analyzer " << value_text(analyzer.value("name", nlohmann::json())) << ' '
       << value_text(analyzer.value("version", nlohmann::json())) << "</p>";
  html << "<h2>Results</h2><table id='results'>";
  for (const char* key :
       {"person_detected", "step_count", "cadence_steps_per_min", "step_time_mean_s",
        "step_time_sd_s", "step_time_cv", "step_time_symmetry", "walking_direction",
        "speed_body_heights_per_s", "step_length_body_heights", "speed_m_per_s", "step_length_m",
        "confidence", "frames_analyzed", "processing_time_s"}) {
    if (!analysis.contains(key)) continue;
    html << "<tr><th>" << key << "</th><td>" << value_text(analysis[key]) << "</td></tr>";
  }
  html << "</table><h2>Warnings</h2><ul id='warnings'>";
  const auto quality = analysis.value("quality", nlohmann::json::object());
  const auto warnings = quality.value("warnings", nlohmann::json::array());
  if (warnings.empty()) html << "<li>none</li>";
  for (const auto& w : warnings) html << "<li class='warn'>" << value_text(w) << "</li>";
  html << "</ul><h2>Gait signal</h2>"
       << signal_svg(times_s, gait_signal, analysis.value("step_events", nlohmann::json::array()));
  html << "<h2>Key frames</h2><div id='key-frames'>";
  for (const KeyFrame& k : key_frames) {
    html << "<figure><img alt='frame " << k.frame << "' src='data:image/png;base64,"
         << common::base64_encode(encode_png(k.gray)) << "'><figcaption>" << k.time_s
         << " s (frame " << k.frame << ")</figcaption></figure>";
  }
  html << "</div><h2>Video metadata</h2><table id='metadata'>";
  if (metadata.is_object()) {
    const auto format = metadata.value("format", nlohmann::json::object());
    for (const char* key : {"filename", "format_name", "duration", "size", "bit_rate"}) {
      if (format.contains(key)) {
        html << "<tr><th>format." << key << "</th><td>" << value_text(format[key]) << "</td></tr>";
      }
    }
    const auto streams = metadata.value("streams", nlohmann::json::array());
    for (std::size_t i = 0; i < streams.size(); ++i) {
      for (const char* key : {"codec_type", "codec_name", "width", "height", "r_frame_rate",
                              "pix_fmt", "nb_frames"}) {
        if (streams[i].contains(key)) {
          html << "<tr><th>stream " << i << '.' << key << "</th><td>" << value_text(streams[i][key])
               << "</td></tr>";
        }
      }
    }
  }
  html << "</table></body></html>\n";
  return html.str();
}

}  // namespace dancer::analysis
