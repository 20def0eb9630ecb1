#include "media/proxy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
}

#include "media/av_handles.h"
#include "media/container_input.h"
#include "media/jpeg_encoder.h"
#include "media/video_encoder.h"

namespace dancer::media {
namespace {

struct SwrFreer {
  void operator()(SwrContext* ctx) const noexcept { swr_free(&ctx); }
};
using SwrContextPtr = std::unique_ptr<SwrContext, SwrFreer>;

// The sampling rates AAC defines (ISO/IEC 14496-3, samplingFrequencyIndex); another rate is
// resampled to 48 kHz.
int aac_rate_for(int source_rate) {
  constexpr std::array<int, 12> kRates = {96000, 88200, 64000, 48000, 44100, 32000,
                                          24000, 22050, 16000, 12000, 11025, 8000};
  return std::find(kRates.begin(), kRates.end(), source_rate) != kRates.end() ? source_rate : 48000;
}

// A decoded audio frame this many times in a row: the stream is given up (the proxy keeps
// the audio written so far).
constexpr int kMaxAudioErrors = 100;

// The source's first audio stream, read by a demuxer of its own over the same file and
// handed to the encoder as float samples on the video's time line (the video stream's start
// is time 0, as VideoDecoder's frame times). Pulled, never pushed: pump(t) decodes only as
// far as time t, so at most one decoded frame waits here.
class AudioReader {
 public:
  // Null, with `note` saying why, when there is no audio stream to decode.
  static std::unique_ptr<AudioReader> open(const common::FileSource& source,
                                           const std::string& containers, std::string& note) {
    auto reader = std::unique_ptr<AudioReader>(new AudioReader());
    try {
      if (!reader->start(source, containers, note)) return nullptr;
    } catch (const MediaError& e) {
      note = std::string("the audio could not be opened: ") + e.what();
      return nullptr;
    }
    return reader;
  }

  int sample_rate() const { return out_rate_; }
  int channels() const { return out_channels_; }
  const std::string& note() const { return note_; }

  // Gives the encoder every sample before `until_s`. After a decoding failure it gives
  // nothing more (note() says why).
  void pump(double until_s, VideoEncoder& encoder) {
    while (!given_up_) {
      if (pending_samples_ > consumed_) {
        const double pending_time = time_of(samples_out_);
        const auto wanted =
            static_cast<std::int64_t>(std::ceil((until_s - pending_time) * out_rate_ - 1e-6));
        const std::int64_t available = pending_samples_ - consumed_;
        const std::int64_t n = std::clamp<std::int64_t>(wanted, 0, available);
        if (n > 0) {
          encoder.write_audio(pending_.data() + consumed_ * out_channels_, static_cast<int>(n),
                              pending_time);
          consumed_ += n;
          samples_out_ += n;
        }
        if (n < available) return;  // `until_s` reached
      }
      if (!decode_more()) return;
    }
  }

 private:
  AudioReader() = default;

  bool start(const common::FileSource& source, const std::string& containers, std::string& note) {
    input_ = open_container(source, containers);
    AVFormatContext* format = input_.format.get();
    const int video = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const AVCodec* decoder = nullptr;
    stream_index_ = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, video, &decoder, 0);
    if (stream_index_ == AVERROR_STREAM_NOT_FOUND) return false;  // silent: nothing to say
    if (stream_index_ < 0 || decoder == nullptr) {
      note = "no decoder for the audio stream";
      return false;
    }
    for (unsigned i = 0; i < format->nb_streams; ++i) {
      if (static_cast<int>(i) != stream_index_) format->streams[i]->discard = AVDISCARD_ALL;
    }
    const AVStream* stream = format->streams[stream_index_];
    time_base_ = stream->time_base;
    // VideoDecoder's frame times count from the video stream's start_time.
    if (video >= 0 && format->streams[video]->start_time != AV_NOPTS_VALUE) {
      origin_s_ = static_cast<double>(format->streams[video]->start_time) *
                  av_q2d(format->streams[video]->time_base);
    }
    codec_.reset(avcodec_alloc_context3(decoder));
    if (!codec_ || !packet_ || !frame_) throw MediaError(MediaErrorCode::kIo, "out of memory");
    if (avcodec_parameters_to_context(codec_.get(), stream->codecpar) < 0 ||
        avcodec_open2(codec_.get(), decoder, nullptr) < 0) {
      note = "the audio decoder refused the stream";
      return false;
    }
    if (codec_->sample_rate <= 0 || codec_->ch_layout.nb_channels <= 0) {
      note = "the audio stream has no sample rate or channels";
      return false;
    }
    out_rate_ = aac_rate_for(codec_->sample_rate);
    out_channels_ = codec_->ch_layout.nb_channels == 1 ? 1 : 2;  // more are mixed down
    av_channel_layout_default(&out_layout_, out_channels_);
    return true;
  }

  double time_of(std::int64_t sample) const {
    return first_time_s_ + static_cast<double>(sample) / out_rate_;
  }

  void give_up(const std::string& why) {
    given_up_ = true;
    note_ = why;
  }

  // Decodes and resamples the next frame into pending_. False at the end (or given up).
  bool decode_more() {
    while (true) {
      const int err = avcodec_receive_frame(codec_.get(), frame_.get());
      if (err == 0) {
        errors_ = 0;
        const bool ok = resample(frame_.get());
        av_frame_unref(frame_.get());
        if (!ok) return false;
        if (pending_samples_ > 0) return true;
        continue;
      }
      if (err == AVERROR_EOF) return flush_resampler();
      if (err != AVERROR(EAGAIN)) {
        if (++errors_ > kMaxAudioErrors) {
          give_up("the audio stream could not be decoded");
          return false;
        }
        continue;
      }
      if (input_done_) {
        avcodec_send_packet(codec_.get(), nullptr);
        continue;
      }
      if (av_read_frame(input_.format.get(), packet_.get()) < 0) {
        input_done_ = true;
        continue;
      }
      if (packet_->stream_index == stream_index_ &&
          avcodec_send_packet(codec_.get(), packet_.get()) < 0 && ++errors_ > kMaxAudioErrors) {
        av_packet_unref(packet_.get());
        give_up("the audio stream could not be decoded");
        return false;
      }
      av_packet_unref(packet_.get());
    }
  }

  // The resampler for this frame's format (rebuilt when a stream changes it mid-way).
  bool configure(const AVFrame* in) {
    AVChannelLayout in_layout{};
    if (in->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || in->ch_layout.nb_channels <= 0) {
      av_channel_layout_default(&in_layout, std::max(1, in->ch_layout.nb_channels));
    } else if (av_channel_layout_copy(&in_layout, &in->ch_layout) < 0) {
      return false;
    }
    const bool same = swr_ && in->format == swr_format_ && in->sample_rate == swr_rate_ &&
                      av_channel_layout_compare(&in_layout, &swr_layout_) == 0;
    if (same) {
      av_channel_layout_uninit(&in_layout);
      return true;
    }
    SwrContext* raw = nullptr;
    int err =
        swr_alloc_set_opts2(&raw, &out_layout_, AV_SAMPLE_FMT_FLT, out_rate_, &in_layout,
                            static_cast<AVSampleFormat>(in->format), in->sample_rate, 0, nullptr);
    swr_.reset(raw);
    if (err >= 0) err = swr_init(swr_.get());
    av_channel_layout_uninit(&swr_layout_);
    swr_layout_ = in_layout;  // takes it over
    swr_format_ = in->format;
    swr_rate_ = in->sample_rate;
    if (err < 0) swr_.reset();
    return err >= 0;
  }

  bool resample(const AVFrame* in) {
    if (in->sample_rate <= 0 || in->nb_samples <= 0) return true;
    if (!configure(in)) {
      give_up("the audio's sample format cannot be converted");
      return false;
    }
    if (first_time_s_ < -1e299) {
      // The first frame places the track; samples before the video's first frame are cut.
      const std::int64_t pts = in->best_effort_timestamp;
      first_time_s_ =
          pts == AV_NOPTS_VALUE ? 0.0 : static_cast<double>(pts) * av_q2d(time_base_) - origin_s_;
      if (first_time_s_ < 0) {
        to_skip_ = std::llround(-first_time_s_ * out_rate_);
        first_time_s_ = 0;
      }
    }
    const int room = swr_get_out_samples(swr_.get(), in->nb_samples);
    return convert(room, const_cast<const std::uint8_t**>(in->extended_data), in->nb_samples);
  }

  bool flush_resampler() {
    if (!swr_ || flushed_) return false;
    flushed_ = true;
    const int room = swr_get_out_samples(swr_.get(), 0);
    if (room <= 0) return false;
    return convert(room, nullptr, 0) && pending_samples_ > 0;
  }

  bool convert(int room, const std::uint8_t** in, int in_samples) {
    if (room < 0) {
      give_up("the audio could not be resampled");
      return false;
    }
    pending_.resize(static_cast<std::size_t>(room) * out_channels_);
    std::uint8_t* out = reinterpret_cast<std::uint8_t*>(pending_.data());
    const int n = swr_convert(swr_.get(), &out, room, in, in_samples);
    if (n < 0) {
      give_up("the audio could not be resampled");
      return false;
    }
    pending_samples_ = n;
    consumed_ = std::min<std::int64_t>(to_skip_, n);
    to_skip_ -= consumed_;
    return true;
  }

  ContainerInput input_;
  CodecContextPtr codec_;
  PacketPtr packet_{av_packet_alloc()};
  FramePtr frame_{av_frame_alloc()};
  SwrContextPtr swr_;
  AVChannelLayout swr_layout_{};
  int swr_format_ = -1;
  int swr_rate_ = 0;
  AVChannelLayout out_layout_{};
  int stream_index_ = -1;
  AVRational time_base_{1, 1};
  double origin_s_ = 0;
  int out_rate_ = 0;
  int out_channels_ = 0;
  double first_time_s_ = -1e300;  // of the first sample handed out; unset until decoded
  std::int64_t to_skip_ = 0;      // samples before the video's start, still to cut
  std::vector<float> pending_;    // interleaved, resampled
  std::int64_t pending_samples_ = 0;
  std::int64_t consumed_ = 0;  // of pending_samples_
  std::int64_t samples_out_ = 0;
  int errors_ = 0;
  bool input_done_ = false;
  bool flushed_ = false;
  bool given_up_ = false;
  std::string note_;

 public:
  ~AudioReader() {
    av_channel_layout_uninit(&swr_layout_);
    av_channel_layout_uninit(&out_layout_);
  }
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;
};

int even(double v) { return std::max(2, static_cast<int>(std::lround(v / 2.0)) * 2); }

}  // namespace

ProxyResult make_proxy(const common::FileSource& input, int mp4_fd, const ProxyOptions& options) {
  if (options.max_height < 16) {
    throw MediaError(MediaErrorCode::kInvalidData, "proxy: max_height below 16");
  }
  DecoderOptions decoding;
  decoding.max_height = options.max_height;
  decoding.max_width = even(options.max_height * 16.0 / 9.0);
  decoding.layout = PixelLayout::kBgr24;
  decoding.apply_rotation = true;
  decoding.limits = options.limits;
  decoding.containers = options.containers;
  VideoDecoder video(input, decoding);
  const VideoStreamInfo& info = video.info();

  ProxyResult result;
  result.width = info.width;
  result.height = info.height;
  result.rotation_degrees = info.rotation_degrees;
  result.fps = info.fps > 0 ? info.fps : 30.0;
  std::unique_ptr<AudioReader> audio =
      AudioReader::open(input, options.containers, result.audio_note);

  VideoEncoderOptions encoding;
  encoding.width = info.width;
  encoding.height = info.height;
  encoding.fps = result.fps;
  encoding.crf = options.crf;
  encoding.preset = options.preset;
  encoding.threads = options.threads;
  if (audio) {
    encoding.audio.sample_rate = audio->sample_rate();
    encoding.audio.channels = audio->channels();
    encoding.audio.bitrate =
        audio->channels() == 1 ? options.audio_bitrate / 2 : options.audio_bitrate;
  }
  VideoEncoder encoder(mp4_fd, encoding);

  const double poster_time = info.duration_s > 0 ? info.duration_s * options.poster_at : 0.0;
  std::vector<std::uint8_t> poster;  // one copy of one frame
  bool poster_final = false;
  const double frame_s = 1.0 / result.fps;
  double end_s = 0;
  VideoFrame frame;
  while (video.next(frame)) {
    if (!poster_final && (poster.empty() || frame.pts_s >= poster_time)) {
      poster.assign(frame.data,
                    frame.data + static_cast<std::ptrdiff_t>(frame.stride) * frame.height);
      result.poster_time_s = frame.pts_s;
      poster_final = frame.pts_s >= poster_time;
    }
    encoder.write_bgr(frame.data, frame.stride, frame.pts_s);
    end_s = frame.pts_s + frame_s;
    if (audio) audio->pump(end_s, encoder);
  }
  if (encoder.frames_written() == 0) {
    throw MediaError(MediaErrorCode::kInvalidData, "proxy: no video frame could be decoded");
  }
  encoder.finish();
  result.frames = encoder.frames_written();
  result.duration_s = end_s;
  result.bytes = encoder.bytes_written();
  if (audio) {
    result.audio_samples = encoder.audio_samples_written();
    result.audio = result.audio_samples > 0;
    result.audio_sample_rate = audio->sample_rate();
    result.audio_channels = audio->channels();
    if (!audio->note().empty()) result.audio_note = audio->note();
  }
  result.poster_jpeg = encode_jpeg(poster.data(), info.width, info.height, info.width * 3);
  return result;
}

}  // namespace dancer::media
