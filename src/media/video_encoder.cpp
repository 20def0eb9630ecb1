#include "media/video_encoder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "media/av_handles.h"
#include "media/fd_io.h"

namespace dancer::media {
namespace {

// Timestamps in 1/90000 s (the MPEG clock): fine enough to carry a variable-rate source's
// own frame times; the mov muxer takes the stream's time base as the track's timescale.
constexpr AVRational kTimeBase{1, 90000};

// An output context is never "closed" like an input one: avformat_free_context() releases
// it (and calls the muxer's deinit, which frees its tracks when the trailer was never
// written). With AVFMT_FLAG_CUSTOM_IO the pb is ours and is left alone.
struct OutputContextFreer {
  void operator()(AVFormatContext* ctx) const noexcept { avformat_free_context(ctx); }
};
using OutputContextPtr = std::unique_ptr<AVFormatContext, OutputContextFreer>;

// The second IO context of the faststart pass: a reader over the same descriptor, with its
// own position.
struct ShiftReader {
  FdCursor cursor;
  AvioContextPtr io;
};

}  // namespace

struct VideoEncoder::Impl {
  VideoEncoderOptions options;
  FdCursor sink;
  std::string url;  // the name the muxer re-opens for the faststart pass
  AvioContextPtr io;
  OutputContextPtr format;
  CodecContextPtr codec;
  FramePtr frame{av_frame_alloc()};
  PacketPtr packet{av_packet_alloc()};
  SwsContextPtr sws;
  std::vector<std::unique_ptr<ShiftReader>> readers;  // open faststart readers
  AVStream* stream = nullptr;
  std::int64_t frame_ticks = 0;  // nominal frame duration in kTimeBase
  std::int64_t last_pts = AV_NOPTS_VALUE;
  std::int64_t frames = 0;
  bool finished = false;

  // The audio track, when options.audio.sample_rate > 0.
  CodecContextPtr audio_codec;
  AVStream* audio_stream = nullptr;
  FramePtr audio_frame;
  std::vector<std::vector<float>> audio_pending;  // per channel, up to one encoder frame
  int audio_pending_samples = 0;
  int audio_frame_size = 0;
  std::int64_t audio_next_pts = AV_NOPTS_VALUE;  // in 1/sample_rate
  std::int64_t audio_samples = 0;

  [[noreturn]] void fail(MediaErrorCode code, const std::string& what, int err) const {
    std::string message = "video encoder: " + what;
    if (sink.error != 0) {
      message += ": " + std::string(std::strerror(sink.error));
      code = MediaErrorCode::kIo;
    } else if (err < 0) {
      message += ": " + av_error_text(err);
    }
    throw MediaError(code, message);
  }

  // The mov muxer's only io_open call is shift_data's read-only re-open of s->url (FFmpeg
  // 5.1 libavformat/movenc.c); nothing else may be opened.
  static int open_reader(AVFormatContext* s, AVIOContext** pb, const char* url, int flags,
                         AVDictionary** /*options*/) {
    auto* self = static_cast<Impl*>(s->opaque);
    if (self == nullptr || url == nullptr || self->url != url || (flags & AVIO_FLAG_WRITE) != 0) {
      return AVERROR(EPERM);
    }
    auto reader = std::make_unique<ShiftReader>();
    reader->cursor.fd = self->sink.fd;
    reader->cursor.end = self->sink.end;
    reader->io = make_fd_avio(&reader->cursor, false);
    if (!reader->io) return AVERROR(ENOMEM);
    *pb = reader->io.get();
    self->readers.push_back(std::move(reader));
    return 0;
  }

  // Called through ff_format_io_close() for each context open_reader handed out: io_close2
  // is used instead of the deprecated io_close when that is left at its default (avformat.h).
  static int close_reader(AVFormatContext* s, AVIOContext* pb) {
    auto* self = static_cast<Impl*>(s->opaque);
    if (self == nullptr || pb == nullptr) return 0;
    std::erase_if(self->readers, [pb](const auto& r) { return r->io.get() == pb; });
    return 0;
  }

  void open(int fd) {
    if (!frame || !packet) throw MediaError(MediaErrorCode::kIo, "out of memory");
    if (options.width <= 0 || options.height <= 0 || options.width % 2 != 0 ||
        options.height % 2 != 0) {
      throw MediaError(MediaErrorCode::kInvalidData,
                       "video encoder: frame size must be even and positive, got " +
                           std::to_string(options.width) + "x" + std::to_string(options.height));
    }
    if (!(options.fps > 0) || options.fps > 1000) {
      throw MediaError(MediaErrorCode::kInvalidData,
                       "video encoder: bad frame rate " + std::to_string(options.fps));
    }
    check_descriptor(fd);
    sink.fd = fd;
    url = "fd:" + std::to_string(fd);

    const AVCodec* encoder = avcodec_find_encoder_by_name("libx264");
    if (encoder == nullptr) {
      throw MediaError(MediaErrorCode::kUnsupported, "video encoder: no libx264 in this FFmpeg");
    }
    AVFormatContext* raw = nullptr;
    int err = avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr);
    if (err < 0 || raw == nullptr) fail(MediaErrorCode::kUnsupported, "no mp4 muxer", err);
    format.reset(raw);
    io = make_fd_avio(&sink, true);
    if (!io) throw MediaError(MediaErrorCode::kIo, "out of memory");
    format->pb = io.get();
    format->flags |= AVFMT_FLAG_CUSTOM_IO;
    format->opaque = this;
    format->io_open = &Impl::open_reader;
    format->io_close2 = &Impl::close_reader;
    format->url = av_strdup(url.c_str());  // freed by avformat_free_context
    if (format->url == nullptr) throw MediaError(MediaErrorCode::kIo, "out of memory");

    stream = avformat_new_stream(format.get(), nullptr);
    codec.reset(avcodec_alloc_context3(encoder));
    if (stream == nullptr || !codec) throw MediaError(MediaErrorCode::kIo, "out of memory");
    const AVRational rate = av_d2q(options.fps, 1001000);
    codec->width = options.width;
    codec->height = options.height;
    codec->pix_fmt = AV_PIX_FMT_YUV420P;
    codec->time_base = kTimeBase;
    // libx264 takes its rate-control frame rate from `framerate` when set, otherwise from
    // the time base, which here would claim 90000 frames per second.
    codec->framerate = rate;
    codec->gop_size =
        std::max(1, static_cast<int>(std::lround(options.fps * options.keyframe_interval_s)));
    // 0: libx264 picks its thread count (AVCodecContext's default of 1 would serialise it).
    codec->thread_count = std::max(0, options.threads);
    // BT.709 limited range, as converted below and tagged so players invert it the same way.
    codec->colorspace = AVCOL_SPC_BT709;
    codec->color_primaries = AVCOL_PRI_BT709;
    codec->color_trc = AVCOL_TRC_BT709;
    codec->color_range = AVCOL_RANGE_MPEG;
    // MP4 keeps SPS/PPS in the avcC box of the moov rather than in the stream.
    if ((format->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
      codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    AvDictionary codec_options;
    codec_options.set("crf", std::to_string(options.crf).c_str());
    codec_options.set("preset", options.preset.c_str());
    err = avcodec_open2(codec.get(), encoder, codec_options.address());
    if (err < 0) fail(MediaErrorCode::kUnsupported, "cannot open libx264", err);
    if (av_dict_count(codec_options.get()) > 0) {
      throw MediaError(MediaErrorCode::kUnsupported, "video encoder: libx264 ignored an option");
    }
    err = avcodec_parameters_from_context(stream->codecpar, codec.get());
    if (err < 0) fail(MediaErrorCode::kUnsupported, "codec parameters", err);
    stream->time_base = kTimeBase;
    stream->avg_frame_rate = rate;
    frame_ticks = std::max<std::int64_t>(1, std::llround(kTimeBase.den / options.fps));

    if (options.audio.sample_rate > 0) open_audio();

    AvDictionary muxer_options;
    if (options.faststart) muxer_options.set("movflags", "+faststart");
    err = avformat_write_header(format.get(), muxer_options.address());
    if (err < 0) fail(MediaErrorCode::kIo, "cannot write the MP4 header", err);

    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = options.width;
    frame->height = options.height;
    frame->color_range = AVCOL_RANGE_MPEG;
    frame->colorspace = AVCOL_SPC_BT709;
    if (av_frame_get_buffer(frame.get(), 0) < 0) {
      throw MediaError(MediaErrorCode::kIo, "out of memory");
    }
    sws.reset(sws_getContext(options.width, options.height, AV_PIX_FMT_BGR24, options.width,
                             options.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr,
                             nullptr));
    if (!sws) throw MediaError(MediaErrorCode::kUnsupported, "cannot convert BGR to yuv420p");
    // swscale's RGB-to-YUV matrix defaults to BT.601; use BT.709 to match the tags above.
    const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(sws.get(), bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
  }

  void open_audio() {
    const AudioTrackOptions& audio = options.audio;
    if (audio.sample_rate < 8000 || audio.sample_rate > 96000 || audio.channels < 1 ||
        audio.channels > 2 || audio.bitrate <= 0) {
      throw MediaError(MediaErrorCode::kInvalidData,
                       "video encoder: bad audio track " + std::to_string(audio.sample_rate) +
                           " Hz, " + std::to_string(audio.channels) + " channel(s)");
    }
    const AVCodec* encoder = avcodec_find_encoder_by_name("aac");
    if (encoder == nullptr) {
      throw MediaError(MediaErrorCode::kUnsupported, "video encoder: no AAC encoder");
    }
    audio_stream = avformat_new_stream(format.get(), nullptr);
    audio_codec.reset(avcodec_alloc_context3(encoder));
    audio_frame.reset(av_frame_alloc());
    if (audio_stream == nullptr || !audio_codec || !audio_frame) {
      throw MediaError(MediaErrorCode::kIo, "out of memory");
    }
    audio_codec->sample_fmt = AV_SAMPLE_FMT_FLTP;  // the native encoder's only format
    audio_codec->sample_rate = audio.sample_rate;
    av_channel_layout_default(&audio_codec->ch_layout, audio.channels);
    audio_codec->bit_rate = audio.bitrate;
    audio_codec->time_base = AVRational{1, audio.sample_rate};
    if ((format->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
      audio_codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    int err = avcodec_open2(audio_codec.get(), encoder, nullptr);
    if (err < 0) fail(MediaErrorCode::kUnsupported, "cannot open the AAC encoder", err);
    err = avcodec_parameters_from_context(audio_stream->codecpar, audio_codec.get());
    if (err < 0) fail(MediaErrorCode::kUnsupported, "audio codec parameters", err);
    audio_stream->time_base = audio_codec->time_base;
    audio_frame_size = audio_codec->frame_size > 0 ? audio_codec->frame_size : 1024;
    audio_pending.assign(static_cast<std::size_t>(audio.channels),
                         std::vector<float>(static_cast<std::size_t>(audio_frame_size)));
  }

  static void check_descriptor(int fd) {
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      throw MediaError(MediaErrorCode::kIo, "video encoder: output is not a regular file");
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) != O_RDWR) {
      throw MediaError(MediaErrorCode::kIo,
                       "video encoder: output must be open for reading and writing (O_RDWR)");
    }
    if ((flags & O_APPEND) != 0) {
      throw MediaError(MediaErrorCode::kIo, "video encoder: output must not be O_APPEND");
    }
    if (st.st_size != 0) {
      throw MediaError(MediaErrorCode::kIo, "video encoder: output file is not empty");
    }
  }

  // Moves every packet an encoder (the video's or the audio's) has ready into the muxer,
  // which interleaves the two tracks by time.
  void drain(AVCodecContext* encoder, AVStream* to) {
    while (true) {
      int err = avcodec_receive_packet(encoder, packet.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) fail(MediaErrorCode::kInvalidData, "encoding failed", err);
      if (to == stream) packet->duration = frame_ticks;  // AAC packets carry their own
      av_packet_rescale_ts(packet.get(), encoder->time_base, to->time_base);
      packet->stream_index = to->index;
      err = av_interleaved_write_frame(format.get(), packet.get());  // takes the reference
      if (err < 0) fail(MediaErrorCode::kIo, "cannot write a packet", err);
    }
  }

  void write(const std::uint8_t* bgr, int stride, double time_s) {
    if (finished) throw MediaError(MediaErrorCode::kInvalidData, "video encoder: finished");
    // The encoder may still hold a reference to the previous frame's buffers (lookahead).
    int err = av_frame_make_writable(frame.get());
    if (err < 0) fail(MediaErrorCode::kIo, "out of memory", err);
    const std::uint8_t* src[4] = {bgr, nullptr, nullptr, nullptr};
    const int src_stride[4] = {stride, 0, 0, 0};
    sws_scale(sws.get(), src, src_stride, 0, options.height, frame->data, frame->linesize);
    std::int64_t pts =
        std::isfinite(time_s) ? std::llround(std::max(0.0, time_s) * kTimeBase.den) : 0;
    if (last_pts != AV_NOPTS_VALUE && pts <= last_pts) pts = last_pts + 1;
    frame->pts = pts;
    last_pts = pts;
    err = avcodec_send_frame(codec.get(), frame.get());
    if (err < 0) fail(MediaErrorCode::kInvalidData, "encoding failed", err);
    ++frames;
    drain(codec.get(), stream);
  }

  void write_audio(const float* interleaved, int samples, double time_s) {
    if (finished) throw MediaError(MediaErrorCode::kInvalidData, "video encoder: finished");
    if (!audio_codec) throw MediaError(MediaErrorCode::kInvalidData, "video encoder: no audio");
    if (samples <= 0 || interleaved == nullptr) return;
    if (audio_next_pts == AV_NOPTS_VALUE) {
      audio_next_pts =
          std::isfinite(time_s)
              ? std::llround(std::max(0.0, time_s) * static_cast<double>(options.audio.sample_rate))
              : 0;
    }
    const int channels = options.audio.channels;
    for (int i = 0; i < samples; ++i) {
      for (int c = 0; c < channels; ++c) {
        audio_pending[static_cast<std::size_t>(c)]
                     [static_cast<std::size_t>(audio_pending_samples)] =
                         interleaved[static_cast<std::ptrdiff_t>(i) * channels + c];
      }
      if (++audio_pending_samples == audio_frame_size) encode_audio_frame();
    }
    audio_samples += samples;
  }

  // Hands the pending samples (a whole encoder frame, or the last, shorter one) to the
  // encoder.
  void encode_audio_frame() {
    if (audio_pending_samples == 0) return;
    av_frame_unref(audio_frame.get());
    audio_frame->format = AV_SAMPLE_FMT_FLTP;
    audio_frame->sample_rate = options.audio.sample_rate;
    audio_frame->nb_samples = audio_pending_samples;
    int err = av_channel_layout_copy(&audio_frame->ch_layout, &audio_codec->ch_layout);
    if (err >= 0) err = av_frame_get_buffer(audio_frame.get(), 0);
    if (err < 0) fail(MediaErrorCode::kIo, "out of memory", err);
    for (int c = 0; c < options.audio.channels; ++c) {
      std::memcpy(audio_frame->extended_data[c], audio_pending[static_cast<std::size_t>(c)].data(),
                  static_cast<std::size_t>(audio_pending_samples) * sizeof(float));
    }
    audio_frame->pts = audio_next_pts;
    audio_next_pts += audio_pending_samples;
    audio_pending_samples = 0;
    err = avcodec_send_frame(audio_codec.get(), audio_frame.get());
    if (err < 0) fail(MediaErrorCode::kInvalidData, "audio encoding failed", err);
    drain(audio_codec.get(), audio_stream);
  }

  void finish() {
    if (finished) return;
    finished = true;
    int err = avcodec_send_frame(codec.get(), nullptr);
    if (err < 0) fail(MediaErrorCode::kInvalidData, "flushing the encoder", err);
    drain(codec.get(), stream);
    if (audio_codec) {
      if (audio_next_pts == AV_NOPTS_VALUE) audio_next_pts = 0;
      encode_audio_frame();  // the last, shorter frame (AV_CODEC_CAP_SMALL_LAST_FRAME)
      err = avcodec_send_frame(audio_codec.get(), nullptr);
      if (err < 0) fail(MediaErrorCode::kInvalidData, "flushing the audio encoder", err);
      drain(audio_codec.get(), audio_stream);
    }
    err = av_write_trailer(format.get());
    if (err < 0) fail(MediaErrorCode::kIo, "cannot write the MP4 trailer", err);
    avio_flush(io.get());
    if (io->error < 0 || sink.error != 0) fail(MediaErrorCode::kIo, "write failed", io->error);
  }
};

VideoEncoder::VideoEncoder(int fd, const VideoEncoderOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->open(fd);
}

VideoEncoder::~VideoEncoder() = default;

void VideoEncoder::write_bgr(const std::uint8_t* bgr, int stride, double time_s) {
  impl_->write(bgr, stride, time_s);
}

void VideoEncoder::finish() { impl_->finish(); }

std::int64_t VideoEncoder::frames_written() const { return impl_->frames; }

void VideoEncoder::write_audio(const float* interleaved, int samples, double time_s) {
  impl_->write_audio(interleaved, samples, time_s);
}

std::int64_t VideoEncoder::audio_samples_written() const { return impl_->audio_samples; }

std::int64_t VideoEncoder::bytes_written() const { return impl_->sink.end; }

}  // namespace dancer::media
