// probe_file(): the JSON of `ffprobe -v quiet -print_format json -show_format -show_streams`
// (Debian 12, FFmpeg 5.1) produced in process. The field names, the value forms and the rules
// for leaving a field out follow fftools/ffprobe.c of FFmpeg 5.1 (show_format, show_stream,
// print_pkt_side_data): its JSON writer drops every value printed with print_str_opt ("N/A",
// "unknown"), prints print_int values as JSON numbers and everything else as strings.
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "common/utf8.h"
#include "media/av_handles.h"
#include "media/fd_io.h"
#include "media/metadata.h"

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/stereo3d.h>
}

namespace dancer::media {
namespace {

using nlohmann::json;

// ffprobe's value_string() prints seconds with "%f" (six decimals, C locale digits).
std::string seconds_text(double seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%f", seconds);
  return text;
}

std::string rational_text(AVRational q, char separator) {
  return std::to_string(q.num) + separator + std::to_string(q.den);
}

// Tags come straight from the file and may hold any bytes; nlohmann::json::dump() throws on
// invalid UTF-8, so invalid sequences become U+FFFD (ffprobe validates these strings too).
std::string valid_utf8(const char* text) { return common::to_valid_utf8(text); }

// show_tags(): no "tags" key at all when the dictionary is empty (FFmpeg frees an emptied one).
void add_tags(json& section, const AVDictionary* tags) {
  if (tags == nullptr) return;
  json object = json::object();
  const AVDictionaryEntry* entry = nullptr;
  while ((entry = av_dict_get(tags, "", entry, AV_DICT_IGNORE_SUFFIX)) != nullptr) {
    object[valid_utf8(entry->key)] = valid_utf8(entry->value);
  }
  section["tags"] = std::move(object);
}

// The disposition flags FFmpeg 5.1's ffprobe prints, in its order.
json disposition_json(int disposition) {
  struct Flag {
    int bit;
    const char* name;
  };
  static constexpr Flag kFlags[] = {
      {AV_DISPOSITION_DEFAULT, "default"},
      {AV_DISPOSITION_DUB, "dub"},
      {AV_DISPOSITION_ORIGINAL, "original"},
      {AV_DISPOSITION_COMMENT, "comment"},
      {AV_DISPOSITION_LYRICS, "lyrics"},
      {AV_DISPOSITION_KARAOKE, "karaoke"},
      {AV_DISPOSITION_FORCED, "forced"},
      {AV_DISPOSITION_HEARING_IMPAIRED, "hearing_impaired"},
      {AV_DISPOSITION_VISUAL_IMPAIRED, "visual_impaired"},
      {AV_DISPOSITION_CLEAN_EFFECTS, "clean_effects"},
      {AV_DISPOSITION_ATTACHED_PIC, "attached_pic"},
      {AV_DISPOSITION_TIMED_THUMBNAILS, "timed_thumbnails"},
      {AV_DISPOSITION_CAPTIONS, "captions"},
      {AV_DISPOSITION_DESCRIPTIONS, "descriptions"},
      {AV_DISPOSITION_METADATA, "metadata"},
      {AV_DISPOSITION_DEPENDENT, "dependent"},
      {AV_DISPOSITION_STILL_IMAGE, "still_image"},
  };
  json out = json::object();
  for (const Flag& flag : kFlags) out[flag.name] = (disposition & flag.bit) != 0 ? 1 : 0;
  return out;
}

std::int32_t read_native_int32(const std::uint8_t* data) {
  std::int32_t value = 0;
  std::memcpy(&value, data, sizeof value);
  return value;
}

// ffprobe's print_int("rotation", av_display_rotation_get(m)) converts the double to an
// integer by truncation. The angle is counter-clockwise, so a phone video shot in portrait
// typically reads -90.
long long display_rotation_like_ffprobe(const std::uint8_t* matrix_bytes) {
  std::int32_t matrix[9];
  std::memcpy(matrix, matrix_bytes, sizeof matrix);
  const double degrees = av_display_rotation_get(matrix);
  // A degenerate matrix yields NaN; converting it is undefined in C++, and x86's cvttsd2si
  // (what ffprobe's conversion compiles to) yields INT64_MIN.
  if (std::isnan(degrees)) return std::numeric_limits<long long>::min();
  return static_cast<long long>(degrees);
}

// writer_print_integers(w, "displaymatrix", data, 9, " %11d", 3, 4, 1).
std::string display_matrix_text(const std::uint8_t* data) {
  std::string text = "\n";
  char cell[32];
  for (int row = 0; row < 3; ++row) {
    std::snprintf(cell, sizeof cell, "%08x: ", static_cast<unsigned>(row));
    text += cell;
    for (int column = 0; column < 3; ++column) {
      std::snprintf(cell, sizeof cell, " %11d", read_native_int32(data + 4 * (row * 3 + column)));
      text += cell;
    }
    text += "\n";
  }
  return text;
}

json side_data_json(const AVPacketSideData& side_data) {
  json out = json::object();
  const char* name = av_packet_side_data_name(side_data.type);
  out["side_data_type"] = name != nullptr ? name : "unknown";
  const std::uint8_t* data = side_data.data;
  const auto size = static_cast<std::size_t>(side_data.size);
  if (side_data.type == AV_PKT_DATA_DISPLAYMATRIX && size >= 9 * 4) {
    out["displaymatrix"] = display_matrix_text(data);
    out["rotation"] = display_rotation_like_ffprobe(data);
  } else if (side_data.type == AV_PKT_DATA_STEREO3D && size >= sizeof(AVStereo3D)) {
    AVStereo3D stereo;
    std::memcpy(&stereo, data, sizeof stereo);
    out["type"] = av_stereo3d_type_name(static_cast<unsigned>(stereo.type));
    out["inverted"] = (stereo.flags & AV_STEREO3D_FLAG_INVERT) != 0 ? 1 : 0;
  } else if (side_data.type == AV_PKT_DATA_SKIP_SAMPLES && size == 10) {
    std::uint32_t skip = 0;
    std::uint32_t discard = 0;
    std::memcpy(&skip, data, 4);  // little endian by definition; this service runs on x86/arm64
    std::memcpy(&discard, data + 4, 4);
    out["skip_samples"] = skip;
    out["discard_padding"] = discard;
    out["skip_reason"] = data[8];
    out["discard_reason"] = data[9];
  } else if (side_data.type == AV_PKT_DATA_MASTERING_DISPLAY_METADATA &&
             size >= sizeof(AVMasteringDisplayMetadata)) {
    AVMasteringDisplayMetadata mastering;
    std::memcpy(&mastering, data, sizeof mastering);
    if (mastering.has_primaries) {
      static constexpr const char* kPrimaryKeys[3][2] = {
          {"red_x", "red_y"}, {"green_x", "green_y"}, {"blue_x", "blue_y"}};
      for (int i = 0; i < 3; ++i) {
        out[kPrimaryKeys[i][0]] = rational_text(mastering.display_primaries[i][0], '/');
        out[kPrimaryKeys[i][1]] = rational_text(mastering.display_primaries[i][1], '/');
      }
      out["white_point_x"] = rational_text(mastering.white_point[0], '/');
      out["white_point_y"] = rational_text(mastering.white_point[1], '/');
    }
    if (mastering.has_luminance) {
      out["min_luminance"] = rational_text(mastering.min_luminance, '/');
      out["max_luminance"] = rational_text(mastering.max_luminance, '/');
    }
  } else if (side_data.type == AV_PKT_DATA_CONTENT_LIGHT_LEVEL &&
             size >= sizeof(AVContentLightMetadata)) {
    AVContentLightMetadata light;
    std::memcpy(&light, data, sizeof light);
    out["max_content"] = light.MaxCLL;
    out["max_average"] = light.MaxFALL;
  } else if (side_data.type == AV_PKT_DATA_AUDIO_SERVICE_TYPE && size >= sizeof(int)) {
    int service_type = 0;
    std::memcpy(&service_type, data, sizeof service_type);
    out["service_type"] = service_type;
  } else if (side_data.type == AV_PKT_DATA_MPEGTS_STREAM_ID && size >= 1) {
    out["id"] = data[0];
  } else if (side_data.type == AV_PKT_DATA_CPB_PROPERTIES && size >= sizeof(AVCPBProperties)) {
    AVCPBProperties cpb;
    std::memcpy(&cpb, data, sizeof cpb);
    out["max_bitrate"] = cpb.max_bitrate;
    out["min_bitrate"] = cpb.min_bitrate;
    out["avg_bitrate"] = cpb.avg_bitrate;
    out["buffer_size"] = cpb.buffer_size;
    out["vbv_delay"] = static_cast<long long>(cpb.vbv_delay);
  }
  return out;
}

const char* field_order_name(AVFieldOrder order) {
  switch (order) {
    case AV_FIELD_PROGRESSIVE:
      return "progressive";
    case AV_FIELD_TT:
      return "tt";
    case AV_FIELD_BB:
      return "bb";
    case AV_FIELD_TB:
      return "tb";
    case AV_FIELD_BT:
      return "bt";
    default:
      return nullptr;
  }
}

void add_video_fields(json& out, AVFormatContext* format, AVStream* stream,
                      const AVCodecContext* decoder) {
  const AVCodecParameters* par = stream->codecpar;
  out["width"] = par->width;
  out["height"] = par->height;
  if (decoder != nullptr) {
    // Like ffprobe these come from a decoder context opened on the stream parameters:
    // avcodec_open2() fills coded_width/height (and h264's SPS parsing sets more).
    out["coded_width"] = decoder->coded_width;
    out["coded_height"] = decoder->coded_height;
    out["closed_captions"] = (decoder->properties & FF_CODEC_PROPERTY_CLOSED_CAPTIONS) != 0 ? 1 : 0;
    out["film_grain"] = (decoder->properties & FF_CODEC_PROPERTY_FILM_GRAIN) != 0 ? 1 : 0;
  }
  out["has_b_frames"] = par->video_delay;
  const AVRational sar = av_guess_sample_aspect_ratio(format, stream, nullptr);
  if (sar.num != 0) {
    out["sample_aspect_ratio"] = rational_text(sar, ':');
    AVRational dar{0, 1};
    av_reduce(&dar.num, &dar.den, static_cast<std::int64_t>(par->width) * sar.num,
              static_cast<std::int64_t>(par->height) * sar.den, 1024 * 1024);
    out["display_aspect_ratio"] = rational_text(dar, ':');
  }
  if (const char* pix_fmt = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format))) {
    out["pix_fmt"] = pix_fmt;
  }
  out["level"] = par->level;
  // ffprobe prints each colour property only when it is specified.
  if (par->color_range != AVCOL_RANGE_UNSPECIFIED) {
    if (const char* name = av_color_range_name(par->color_range)) out["color_range"] = name;
  }
  if (par->color_space != AVCOL_SPC_UNSPECIFIED) {
    if (const char* name = av_color_space_name(par->color_space)) out["color_space"] = name;
  }
  if (par->color_trc != AVCOL_TRC_UNSPECIFIED) {
    if (const char* name = av_color_transfer_name(par->color_trc)) out["color_transfer"] = name;
  }
  if (par->color_primaries != AVCOL_PRI_UNSPECIFIED) {
    if (const char* name = av_color_primaries_name(par->color_primaries)) {
      out["color_primaries"] = name;
    }
  }
  if (par->chroma_location != AVCHROMA_LOC_UNSPECIFIED) {
    if (const char* name = av_chroma_location_name(par->chroma_location)) {
      out["chroma_location"] = name;
    }
  }
  if (const char* order = field_order_name(par->field_order)) out["field_order"] = order;
  if (decoder != nullptr) out["refs"] = decoder->refs;
}

void add_audio_fields(json& out, const AVCodecParameters* par) {
  if (const char* sample_fmt = av_get_sample_fmt_name(static_cast<AVSampleFormat>(par->format))) {
    out["sample_fmt"] = sample_fmt;
  }
  out["sample_rate"] = std::to_string(par->sample_rate);
  out["channels"] = par->ch_layout.nb_channels;
  if (par->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC) {
    char layout[128] = {};
    av_channel_layout_describe(&par->ch_layout, layout, sizeof layout);
    out["channel_layout"] = layout;
  }
  out["bits_per_sample"] = av_get_bits_per_sample(par->codec_id);
}

// Options a decoder exports after opening (h264's "is_avc", "nal_length_size"), which
// ffprobe prints among the stream fields.
void add_exported_decoder_options(json& out, const AVCodecContext* decoder) {
  if (decoder == nullptr || decoder->codec == nullptr || decoder->codec->priv_class == nullptr ||
      decoder->priv_data == nullptr) {
    return;
  }
  const AVOption* option = nullptr;
  while ((option = av_opt_next(decoder->priv_data, option)) != nullptr) {
    if ((option->flags & AV_OPT_FLAG_EXPORT) == 0) continue;
    std::uint8_t* raw = nullptr;
    if (av_opt_get(decoder->priv_data, option->name, 0, &raw) >= 0 && raw != nullptr) {
      AvStringPtr value(raw);
      out[option->name] = valid_utf8(reinterpret_cast<const char*>(value.get()));
    }
  }
}

json stream_json(AVFormatContext* format, AVStream* stream, const AVCodecContext* decoder) {
  const AVCodecParameters* par = stream->codecpar;
  json out = json::object();
  out["index"] = stream->index;
  if (const AVCodecDescriptor* descriptor = avcodec_descriptor_get(par->codec_id)) {
    out["codec_name"] = descriptor->name;
    out["codec_long_name"] = descriptor->long_name != nullptr ? descriptor->long_name : "unknown";
  }
  if (const char* profile = avcodec_profile_name(par->codec_id, par->profile)) {
    out["profile"] = profile;
  } else if (par->profile != FF_PROFILE_UNKNOWN) {
    out["profile"] = std::to_string(par->profile);
  }
  if (const char* type = av_get_media_type_string(par->codec_type)) out["codec_type"] = type;

  char fourcc[AV_FOURCC_MAX_STRING_SIZE] = {};
  av_fourcc_make_string(fourcc, par->codec_tag);
  out["codec_tag_string"] = fourcc;
  char tag[16];
  std::snprintf(tag, sizeof tag, "0x%04" PRIx32, par->codec_tag);
  out["codec_tag"] = tag;

  switch (par->codec_type) {
    case AVMEDIA_TYPE_VIDEO:
      add_video_fields(out, format, stream, decoder);
      break;
    case AVMEDIA_TYPE_AUDIO:
      add_audio_fields(out, par);
      break;
    case AVMEDIA_TYPE_SUBTITLE:
      if (par->width != 0) out["width"] = par->width;
      if (par->height != 0) out["height"] = par->height;
      break;
    default:
      break;
  }
  add_exported_decoder_options(out, decoder);

  if ((format->iformat->flags & AVFMT_SHOW_IDS) != 0) {
    char id[16];
    std::snprintf(id, sizeof id, "0x%x", static_cast<unsigned>(stream->id));
    out["id"] = id;
  }
  out["r_frame_rate"] = rational_text(stream->r_frame_rate, '/');
  out["avg_frame_rate"] = rational_text(stream->avg_frame_rate, '/');
  out["time_base"] = rational_text(stream->time_base, '/');
  if (stream->start_time != AV_NOPTS_VALUE) {
    out["start_pts"] = stream->start_time;
    out["start_time"] =
        seconds_text(static_cast<double>(stream->start_time) * av_q2d(stream->time_base));
  }
  if (stream->duration != AV_NOPTS_VALUE) {
    out["duration_ts"] = stream->duration;
    out["duration"] =
        seconds_text(static_cast<double>(stream->duration) * av_q2d(stream->time_base));
  }
  if (par->bit_rate > 0) out["bit_rate"] = std::to_string(par->bit_rate);
  if (decoder != nullptr && decoder->rc_max_rate > 0) {
    out["max_bit_rate"] = std::to_string(decoder->rc_max_rate);
  }
  if (decoder != nullptr && decoder->bits_per_raw_sample > 0) {
    out["bits_per_raw_sample"] = std::to_string(decoder->bits_per_raw_sample);
  }
  if (stream->nb_frames != 0) out["nb_frames"] = std::to_string(stream->nb_frames);
  if (par->extradata_size > 0) out["extradata_size"] = par->extradata_size;
  out["disposition"] = disposition_json(stream->disposition);
  add_tags(out, stream->metadata);
  if (stream->nb_side_data > 0) {
    json list = json::array();
    for (int i = 0; i < stream->nb_side_data; ++i)
      list.push_back(side_data_json(stream->side_data[i]));
    out["side_data_list"] = std::move(list);
  }
  return out;
}

json format_json(AVFormatContext* format, const std::string& filename) {
  json out = json::object();
  out["filename"] = valid_utf8(filename.c_str());
  out["nb_streams"] = format->nb_streams;
  out["nb_programs"] = format->nb_programs;
  out["format_name"] = format->iformat->name;
  if (format->iformat->long_name != nullptr) out["format_long_name"] = format->iformat->long_name;
  if (format->start_time != AV_NOPTS_VALUE) {
    out["start_time"] = seconds_text(static_cast<double>(format->start_time) / AV_TIME_BASE);
  }
  if (format->duration != AV_NOPTS_VALUE) {
    out["duration"] = seconds_text(static_cast<double>(format->duration) / AV_TIME_BASE);
  }
  const std::int64_t size = format->pb != nullptr ? avio_size(format->pb) : -1;
  if (size >= 0) out["size"] = std::to_string(size);
  if (format->bit_rate > 0) out["bit_rate"] = std::to_string(format->bit_rate);
  out["probe_score"] = format->probe_score;
  add_tags(out, format->metadata);
  return out;
}

// State the FFmpeg callbacks of one probe share, reached through AVFormatContext::opaque and
// AVIOInterruptCB::opaque.
struct ProbeGuard {
  std::chrono::steady_clock::time_point deadline;
  std::string allowed_url;
  int (*default_io_open)(AVFormatContext*, AVIOContext**, const char*, int,
                         AVDictionary**) = nullptr;
  bool deadline_passed = false;
  bool limits_set = false;
};

// FFmpeg polls the interrupt callback during blocking I/O and in avformat_find_stream_info's
// read loop; a non-zero return aborts the operation with AVERROR_EXIT.
int interrupt_after_deadline(void* opaque) {
  auto* guard = static_cast<ProbeGuard*>(opaque);
  if (std::chrono::steady_clock::now() < guard->deadline) return 0;
  guard->deadline_passed = true;
  return 1;
}

// Every file a demuxer opens goes through AVFormatContext::io_open (the input itself, HLS
// segments, concat entries, ...). Only the probed file may be opened, so an uploaded
// playlist cannot make the service read other local files.
int open_only_probed_file(AVFormatContext* format, AVIOContext** pb, const char* url, int flags,
                          AVDictionary** options) {
  auto* guard = static_cast<ProbeGuard*>(format->opaque);
  if (guard == nullptr || url == nullptr || guard->allowed_url.empty() ||
      guard->allowed_url != url) {
    return AVERROR(EPERM);
  }
  return guard->default_io_open(format, pb, url, flags, options);
}

[[noreturn]] void throw_for_av_error(int error, const std::string& step,
                                     const std::filesystem::path& path, const ProbeGuard& guard) {
  const std::string where = step + " " + path.string() + ": ";
  if (guard.deadline_passed || error == AVERROR_EXIT) {
    throw MediaError(MediaErrorCode::kInvalidData, where + "probing exceeded its deadline");
  }
  if (error == AVERROR(ENOENT) || error == AVERROR(EACCES) || error == AVERROR(EISDIR)) {
    throw MediaError(MediaErrorCode::kNotFound, where + av_error_text(error));
  }
  if (error == AVERROR(ENOMEM) && guard.limits_set) {
    // Under the probe's bounds ENOMEM means one was hit: the child's RLIMIT_AS, or a demuxer
    // refused a stream beyond "max_streams" (FFmpeg's avformat_new_stream returns NULL and
    // demuxers report that as ENOMEM).
    throw MediaError(MediaErrorCode::kLimitExceeded,
                     where + "the file needs more memory or more streams than the probe allows");
  }
  if (error == AVERROR(EIO) || error == AVERROR(ENOMEM)) {
    throw MediaError(MediaErrorCode::kIo, where + av_error_text(error));
  }
  // AVERROR_INVALIDDATA ("moov atom not found", no demuxer recognised the bytes), EOF on an
  // empty file, and anything else a demuxer rejects.
  throw MediaError(MediaErrorCode::kInvalidData, where + av_error_text(error));
}

// Every demuxer except those that open other files behind io_open's back: the concat demuxer
// opens the files its script names with a fresh AVFormatContext that does not inherit io_open
// (FFmpeg 5.1 concatdec.c copies only the interrupt callback and the protocol whitelist), so
// an uploaded "ffconcat version 1.0" script, whatever its name, could read other local files.
const std::string& demuxers_allowed_to_probe() {
  static const std::string allowed = [] {
    static constexpr const char* kRefused[] = {"concat"};
    std::string names;
    void* iterator = nullptr;
    while (const AVInputFormat* demuxer = av_demuxer_iterate(&iterator)) {
      bool refused = false;
      for (const char* name : kRefused) refused = refused || std::strcmp(demuxer->name, name) == 0;
      if (refused) continue;
      if (!names.empty()) names += ',';
      names += demuxer->name;  // may itself be a list such as "mov,mp4,m4a,3gp,3g2,mj2"
    }
    return names;
  }();
  return allowed;
}

// ffprobe binds an opened decoder to each stream (open_input_file); some printed fields
// (coded size, refs, bits_per_raw_sample, exported options) come from it. Opening a decoder
// parses only the extradata; no frame is decoded.
CodecContextPtr open_decoder_like_ffprobe(const AVStream* stream) {
  if (stream->codecpar->codec_id == AV_CODEC_ID_PROBE) return nullptr;
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (codec == nullptr) return nullptr;
  CodecContextPtr decoder(avcodec_alloc_context3(codec));
  if (!decoder) return nullptr;
  if (avcodec_parameters_to_context(decoder.get(), stream->codecpar) < 0) return nullptr;
  decoder->pkt_timebase = stream->time_base;
  decoder->thread_count = 1;  // ffprobe's default; extra threads would only cost start-up time
  if (avcodec_open2(decoder.get(), codec, nullptr) < 0) return nullptr;
  return decoder;
}

// The bounds of ProbeOptions, checked after the header is read (streams, declared frame
// sizes, index entries) and again after avformat_find_stream_info filled in what the header
// lacked.
void check_probe_limits(const AVFormatContext* format, const ProbeOptions& options) {
  if (options.max_streams > 0 && format->nb_streams > options.max_streams) {
    throw MediaError(MediaErrorCode::kLimitExceeded,
                     "the file has " + std::to_string(format->nb_streams) +
                         " streams, more than the " + std::to_string(options.max_streams) +
                         " allowed");
  }
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    AVStream* stream = format->streams[i];
    const AVCodecParameters* codec = stream->codecpar;
    if (options.max_frame_pixels > 0 && codec->width > 0 && codec->height > 0 &&
        static_cast<std::uint64_t>(codec->width) * static_cast<std::uint64_t>(codec->height) >
            options.max_frame_pixels) {
      throw MediaError(MediaErrorCode::kLimitExceeded,
                       "stream " + std::to_string(i) + " has " + std::to_string(codec->width) +
                           "x" + std::to_string(codec->height) + " frames, more than the " +
                           std::to_string(options.max_frame_pixels) + " pixels allowed");
    }
    const auto index_entries = static_cast<std::uint64_t>(avformat_index_get_entries_count(stream));
    if (options.max_index_entries > 0 && index_entries > options.max_index_entries) {
      throw MediaError(MediaErrorCode::kLimitExceeded,
                       "stream " + std::to_string(i) + " has " + std::to_string(index_entries) +
                           " index entries, more than the " +
                           std::to_string(options.max_index_entries) + " allowed");
    }
  }
}

}  // namespace

std::string_view to_string(MediaErrorCode code) {
  switch (code) {
    case MediaErrorCode::kNotFound:
      return "not_found";
    case MediaErrorCode::kInvalidData:
      return "invalid_data";
    case MediaErrorCode::kNoVideo:
      return "no_video";
    case MediaErrorCode::kUnsupported:
      return "unsupported";
    case MediaErrorCode::kIo:
      return "io";
    case MediaErrorCode::kLimitExceeded:
      return "limit_exceeded";
  }
  return "invalid_data";
}

MediaErrorCode media_error_code_from_string(std::string_view name) {
  for (MediaErrorCode code :
       {MediaErrorCode::kNotFound, MediaErrorCode::kInvalidData, MediaErrorCode::kNoVideo,
        MediaErrorCode::kUnsupported, MediaErrorCode::kIo, MediaErrorCode::kLimitExceeded}) {
    if (to_string(code) == name) return code;
  }
  return MediaErrorCode::kInvalidData;
}

double ffprobe_number(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number()) return it->get<double>();
  if (!it->is_string()) return 0;
  const std::string& text = it->get_ref<const std::string&>();
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && std::isfinite(value) ? value : 0;
}

void require_regular_file(const std::filesystem::path& path) {
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (!std::filesystem::exists(status)) {
    throw MediaError(MediaErrorCode::kNotFound, "no such file: " + path.string());
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw MediaError(MediaErrorCode::kNotFound, "not a regular file: " + path.string());
  }
}

json probe_file(const common::FileSource& source) { return probe_file(source, ProbeOptions{}); }

json probe_file(const common::FileSource& source, const ProbeOptions& options) {
  const std::filesystem::path path =
      source.by_descriptor() ? std::filesystem::path(source.name()) : source.path();
  if (!source.by_descriptor()) require_regular_file(path);

  ProbeGuard guard;
  guard.deadline = std::chrono::steady_clock::now() + options.deadline;
  // The explicit "file:" prefix keeps a ':' in a file name from being read as a protocol name.
  // Read through a descriptor, the input is opened by no name at all, and a nested open
  // (a playlist's entry) matches nothing.
  guard.allowed_url = source.by_descriptor() ? std::string() : "file:" + path.string();
  std::string url = source.by_descriptor() ? source.name() : guard.allowed_url;

  std::unique_ptr<FdInput> fd_input;  // outlives `format`, which reads through it
  FormatContextPtr format(avformat_alloc_context());
  if (!format) throw MediaError(MediaErrorCode::kIo, "avformat_alloc_context failed");
  if (source.by_descriptor()) fd_input = attach_fd_input(format.get(), source.fd());
  format->interrupt_callback.callback = interrupt_after_deadline;
  format->interrupt_callback.opaque = &guard;
  format->opaque = &guard;
  guard.default_io_open = format->io_open;
  format->io_open = open_only_probed_file;

  AvDictionary open_options;
  // No network or pipe protocols: even a crafted playlist can only name local files, and
  // open_only_probed_file refuses all but this one.
  open_options.set("protocol_whitelist", "file");
  open_options.set("format_whitelist", demuxers_allowed_to_probe().c_str());
  // ffprobe sets this so MPEG-TS programs announced late are still found.
  open_options.set("scan_all_pmts", "1");

  guard.limits_set =
      options.max_streams > 0 || options.max_frame_pixels > 0 || options.max_index_entries > 0;
  if (options.max_streams > 0) {
    open_options.set("max_streams", std::to_string(options.max_streams).c_str());
  }

  // avformat_open_input frees the context and nulls the pointer on failure.
  AVFormatContext* raw = format.release();
  int result = avformat_open_input(&raw, url.c_str(), nullptr, open_options.address());
  format.reset(raw);
  if (result < 0) throw_for_av_error(result, "cannot open", path, guard);
  check_probe_limits(format.get(), options);

  // What ffprobe does: reads (and decodes) only as many packets as needed to fill in codec
  // parameters the container header lacks. Decoders refuse frames larger than max_pixels
  // (AVCodecContext option), so a stream whose header understates its size is bounded too.
  std::vector<AvDictionary> stream_options(format->nb_streams);
  std::vector<AVDictionary*> stream_option_ptrs(format->nb_streams, nullptr);
  if (options.max_frame_pixels > 0) {
    for (unsigned i = 0; i < format->nb_streams; ++i) {
      stream_options[i].set("max_pixels", std::to_string(options.max_frame_pixels).c_str());
      stream_option_ptrs[i] = *stream_options[i].address();
    }
  }
  result = avformat_find_stream_info(
      format.get(), options.max_frame_pixels > 0 ? stream_option_ptrs.data() : nullptr);
  // find_stream_info takes ownership back and may replace the dictionaries it consumed.
  for (unsigned i = 0; i < format->nb_streams && i < stream_options.size(); ++i) {
    *stream_options[i].address() = stream_option_ptrs[i];
  }
  if (result < 0) throw_for_av_error(result, "cannot read stream info of", path, guard);
  check_probe_limits(format.get(), options);
  if (guard.deadline_passed) throw_for_av_error(AVERROR_EXIT, "probing", path, guard);

  std::vector<CodecContextPtr> decoders;
  decoders.reserve(format->nb_streams);
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    decoders.push_back(open_decoder_like_ffprobe(format->streams[i]));
  }

  json streams = json::array();
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    streams.push_back(stream_json(format.get(), format->streams[i], decoders[i].get()));
  }
  json out = json::object();
  out["streams"] = std::move(streams);
  out["format"] = format_json(format.get(), path.string());
  return out;
}

}  // namespace dancer::media
