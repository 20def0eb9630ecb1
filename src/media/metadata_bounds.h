// Bounds on the probe metadata stored with each job. Tags come from the uploaded file and
// are unbounded (a Matroska file can carry tens of megabytes of them), so the row saved
// for a job is cut to a known size before it reaches the database.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace dancer::media {

struct MetadataBounds {
  std::size_t max_bytes = 256 * 1024;      // of metadata.dump(), "truncated" included
  std::size_t max_streams = 32;            // entries of "streams" kept (plus one, see below)
  std::size_t max_tag_value_bytes = 1024;  // longer values are cut at a UTF-8 boundary
  std::size_t max_tags_per_object = 64;    // per "tags" object (format and each stream)
};

// Applies `bounds` to probe_file()'s {"format": {...}, "streams": [...]}:
//  1. each "tags" object keeps its first max_tags_per_object entries (in key order) and
//     each value at most max_tag_value_bytes bytes;
//  2. "streams" keeps its first max_streams entries and, when none of them is a video
//     stream, also the first video stream after them (the analysis needs it; prefer one
//     that is not cover art);
//  3. while the JSON is still larger than max_bytes: stream tags (last stream first), the
//     format's tags, stream side data (but never the kept video stream's: its display
//     matrix gives the rotation), then whole streams other than that video stream.
// Only when something was cut, a top-level "truncated": {"tags": dropped tags, "tag_values":
// shortened values, "streams": dropped streams, "side_data": dropped side-data entries,
// "original_bytes": size before} is added; otherwise the input is returned unchanged.
// "format"."nb_streams" keeps the file's own count.
nlohmann::json bound_metadata(nlohmann::json metadata, const MetadataBounds& bounds = {});

}  // namespace dancer::media
