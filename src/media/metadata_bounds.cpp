#include "media/metadata_bounds.h"

#include <optional>
#include <string>

namespace dancer::media {
namespace {

using nlohmann::json;

struct Counts {
  std::size_t tags = 0;
  std::size_t tag_values = 0;
  std::size_t streams = 0;
  std::size_t side_data = 0;
  bool any() const { return tags + tag_values + streams + side_data > 0; }
};

// Room kept for the "truncated" object itself (five counters, well under this).
constexpr std::size_t kTruncatedReserve = 160;

// Exactly metadata.dump().size() (compact form) without building the whole text: the
// metadata of a tag-stuffed file can be hundreds of megabytes, so only one string at a time
// is serialised. Tag values hold no invalid UTF-8 (probe_file replaces it with U+FFFD), but
// `replace` keeps the measuring from ever throwing.
std::size_t json_bytes(const json& value) {
  auto scalar_bytes = [](const json& scalar) {
    return scalar.dump(-1, ' ', false, json::error_handler_t::replace).size();
  };
  if (value.is_object()) {
    std::size_t bytes = 2 + (value.empty() ? 0 : value.size() - 1);  // {} and commas
    for (const auto& [key, member] : value.items()) {
      bytes += scalar_bytes(json(key)) + 1 + json_bytes(member);  // "key":value
    }
    return bytes;
  }
  if (value.is_array()) {
    std::size_t bytes = 2 + (value.empty() ? 0 : value.size() - 1);
    for (const json& element : value) bytes += json_bytes(element);
    return bytes;
  }
  return scalar_bytes(value);
}

// Cuts valid UTF-8 to at most max_bytes without splitting a character.
void cut_utf8(std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) --cut;
  text.resize(cut);
}

void bound_tags(json& section, const MetadataBounds& bounds, Counts& counts) {
  if (!section.is_object()) return;
  auto tags = section.find("tags");
  if (tags == section.end() || !tags->is_object()) return;
  json kept = json::object();
  std::size_t index = 0;
  for (auto& [key, value] : tags->items()) {
    if (index++ >= bounds.max_tags_per_object) {
      ++counts.tags;
      continue;
    }
    if (value.is_string() &&
        value.get_ref<const std::string&>().size() > bounds.max_tag_value_bytes) {
      cut_utf8(value.get_ref<std::string&>(), bounds.max_tag_value_bytes);
      ++counts.tag_values;
    }
    kept[key] = std::move(value);
  }
  *tags = std::move(kept);
}

bool is_video(const json& stream) {
  return stream.is_object() && stream.value("codec_type", std::string()) == "video";
}

bool is_cover_art(const json& stream) {
  auto disposition = stream.find("disposition");
  return disposition != stream.end() && disposition->is_object() &&
         disposition->value("attached_pic", 0) == 1;
}

// Index of the stream the analysis will want: the first video stream that is not cover
// art, else the first video stream.
std::optional<std::size_t> main_video_stream(const json& streams) {
  std::optional<std::size_t> first_video;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    if (!is_video(streams[i])) continue;
    if (!is_cover_art(streams[i])) return i;
    if (!first_video) first_video = i;
  }
  return first_video;
}

}  // namespace

json bound_metadata(json metadata, const MetadataBounds& bounds) {
  if (!metadata.is_object()) return metadata;
  const std::size_t original_bytes = json_bytes(metadata);
  Counts counts;

  auto format = metadata.find("format");
  if (format != metadata.end()) bound_tags(*format, bounds, counts);

  // Position in the bounded "streams" of the video stream that must survive, if any.
  std::optional<std::size_t> video;
  auto streams = metadata.find("streams");
  if (streams != metadata.end() && streams->is_array()) {
    const std::optional<std::size_t> main_video = main_video_stream(*streams);
    json kept = json::array();
    for (std::size_t i = 0; i < streams->size(); ++i) {
      const bool keep = i < bounds.max_streams || (main_video && *main_video == i && !video);
      if (!keep) {
        ++counts.streams;
        continue;
      }
      if (main_video && *main_video == i) video = kept.size();
      json stream = std::move((*streams)[i]);
      bound_tags(stream, bounds, counts);
      kept.push_back(std::move(stream));
    }
    *streams = std::move(kept);
  }

  const std::size_t budget =
      bounds.max_bytes > kTruncatedReserve ? bounds.max_bytes - kTruncatedReserve : 0;
  auto over_budget = [&metadata, budget] { return json_bytes(metadata) > budget; };
  auto drop_tags = [&counts](json& section) {
    auto tags = section.find("tags");
    if (tags == section.end()) return;
    counts.tags += tags->is_object() ? tags->size() : 1;
    section.erase(tags);
  };

  const bool has_streams = streams != metadata.end() && streams->is_array();
  if (has_streams) {
    for (std::size_t i = streams->size(); i-- > 0 && over_budget();) {
      if ((*streams)[i].is_object()) drop_tags((*streams)[i]);
    }
  }
  if (format != metadata.end() && format->is_object() && over_budget()) drop_tags(*format);
  if (has_streams) {
    for (std::size_t i = streams->size(); i-- > 0 && over_budget();) {
      json& stream = (*streams)[i];
      if (video && *video == i) continue;
      if (!stream.is_object() || !stream.contains("side_data_list")) continue;
      const json& list = stream["side_data_list"];
      counts.side_data += list.is_array() ? list.size() : 1;
      stream.erase("side_data_list");
    }
    for (std::size_t i = streams->size(); i-- > 0 && over_budget();) {
      if (video && *video == i) continue;
      streams->erase(i);
      ++counts.streams;
      if (video && *video > i) --*video;
    }
  }

  if (counts.any()) {
    metadata["truncated"] = {{"tags", counts.tags},
                             {"tag_values", counts.tag_values},
                             {"streams", counts.streams},
                             {"side_data", counts.side_data},
                             {"original_bytes", original_bytes}};
  }
  return metadata;
}

}  // namespace dancer::media
