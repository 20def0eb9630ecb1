// The clinical report's Key frames section: frames at initial contact, inline as data: URIs.
#include "render/report_parts.h"

#include <string>
#include <vector>

#include "common/strings.h"

namespace dancer::analysis::report {

namespace {

// The image type from its signature (PNG, RFC 2083 section 3.1; JPEG SOI marker), so the data:
// URI never claims a type the bytes are not.
const char* image_type(const std::string& bytes) {
  if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return "image/png";
  if (bytes.size() >= 3 && bytes.compare(0, 3, "\xff\xd8\xff") == 0) return "image/jpeg";
  return nullptr;
}

}  // namespace

void key_frames_section(std::string& out, const std::vector<KeyFrameImage>& frames) {
  if (frames.empty()) return;
  out += "<section id=\"key-frames\"><h2>Key frames at initial contact</h2><div class=\"frames\">";
  for (const auto& k : frames) {
    const std::string caption =
        esc(k.caption) + " — " + fixed(k.time_s, 2) + " s (frame " + std::to_string(k.frame) + ")";
    out += "<figure class=\"key-frame\" data-frame=\"" + std::to_string(k.frame) +
           "\" data-time-s=\"" + raw_value(k.time_s) + "\">";
    if (const char* type = image_type(k.png)) {
      out += "<img alt=\"" + caption + "\" src=\"data:" + type + ";base64," +
             common::base64_encode(k.png) + "\">";
    } else {
      out += "<p class=\"reason\">image not in a format the report can show</p>";
    }
    out += "<figcaption>" + caption + "</figcaption></figure>";
  }
  out += "</div></section>";
}

}  // namespace dancer::analysis::report
