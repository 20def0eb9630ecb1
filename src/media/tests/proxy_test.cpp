#include "media/proxy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "media/jpeg_encoder.h"
#include "media/video_decoder.h"
#include "media/video_encoder.h"
#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;
using Fd = dancer::testing::OpenFile;

constexpr int kRdwrNew = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC;
const std::string kFfmpeg = "ffmpeg -nostdin -hide_banner -loglevel error -y ";

// A clip from lavfi sources: `video` (testsrc2 options), `audio` (sine options; empty: none).
std::filesystem::path make_clip(const TempDir& dir, const std::string& name,
                                const std::string& video, const std::string& audio,
                                const std::string& extra = "") {
  const auto path = dir / name;
  std::string command = kFfmpeg + "-f lavfi -i testsrc2=" + video;
  if (!audio.empty()) command += " -f lavfi -i sine=" + audio;
  command += " -c:v libx264 -preset ultrafast -pix_fmt yuv420p";
  if (!audio.empty()) command += " -c:a aac";
  command += " " + extra + " " + shell_quote(path.string());
  EXPECT_EQ(run_command(command).exit_code, 0) << command;
  return path;
}

// ffprobe's streams and format of a file.
nlohmann::json ffprobe(const std::filesystem::path& path) {
  const auto r = run_command(
      "ffprobe -v error -show_entries "
      "stream=codec_type,codec_name,pix_fmt,width,height,sample_rate,channels,duration:"
      "format=duration,format_name -of json " +
      shell_quote(path.string()));
  EXPECT_EQ(r.exit_code, 0);
  return nlohmann::json::parse(r.output);
}

const nlohmann::json* stream_of(const nlohmann::json& probe, const std::string& type) {
  for (const auto& stream : probe.at("streams")) {
    if (stream.value("codec_type", "") == type) return &stream;
  }
  return nullptr;
}

double number(const nlohmann::json& value) { return std::stod(value.get<std::string>()); }

std::ptrdiff_t index_of(const std::vector<std::string>& v, const std::string& s) {
  const auto it = std::find(v.begin(), v.end(), s);
  return it == v.end() ? -1 : it - v.begin();
}

ProxyOptions fast_options() {
  ProxyOptions options;
  options.preset = "ultrafast";
  return options;
}

ProxyResult make(const std::filesystem::path& source, const std::filesystem::path& out,
                 const ProxyOptions& options = fast_options()) {
  Fd fd(out, kRdwrNew);
  return make_proxy(common::FileSource(source), fd.get(), options);
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  Fd fd(path, kRdwrNew);
  ASSERT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

// The mean volume ffmpeg's volumedetect measures on a file's audio, in dB.
double mean_volume_db(const std::filesystem::path& path) {
  const auto r = run_command("ffmpeg -nostdin -hide_banner -i " + shell_quote(path.string()) +
                             " -af volumedetect -vn -f null - 2>&1 | grep mean_volume");
  const auto at = r.output.find("mean_volume:");
  if (at == std::string::npos) return -1000;
  return std::stod(r.output.substr(at + 12));
}

TEST(Proxy, A1080pClipWithSoundBecomesA720pH264AacFaststartMp4) {
  TempDir dir;
  const auto source = make_clip(dir, "source.mp4", "size=1920x1080:rate=30:duration=2",
                                "frequency=440:sample_rate=44100:duration=2", "-shortest");
  const auto out = dir / "proxy.mp4";
  const ProxyResult result = make(source, out);
  EXPECT_EQ(result.width, 1280);
  EXPECT_EQ(result.height, 720);
  EXPECT_EQ(result.frames, 60);
  EXPECT_TRUE(result.audio);
  EXPECT_EQ(result.audio_sample_rate, 44100);
  EXPECT_EQ(result.audio_channels, 1);
  EXPECT_TRUE(result.audio_note.empty()) << result.audio_note;
  EXPECT_EQ(static_cast<std::uintmax_t>(result.bytes), std::filesystem::file_size(out));

  const auto probe = ffprobe(out);
  const auto* video = stream_of(probe, "video");
  const auto* audio = stream_of(probe, "audio");
  ASSERT_NE(video, nullptr);
  ASSERT_NE(audio, nullptr);
  EXPECT_EQ(video->at("codec_name"), "h264");
  EXPECT_EQ(video->at("pix_fmt"), "yuv420p");
  EXPECT_EQ(video->at("width"), 1280);
  EXPECT_EQ(video->at("height"), 720);
  EXPECT_EQ(audio->at("codec_name"), "aac");
  EXPECT_EQ(audio->at("sample_rate"), "44100");
  // Durations: the video within a frame of the source's, the audio within an AAC frame.
  const double source_video = number(stream_of(ffprobe(source), "video")->at("duration"));
  EXPECT_NEAR(number(video->at("duration")), source_video, 1.0 / 30);
  EXPECT_NEAR(number(audio->at("duration")), source_video, 1024.0 / 44100);
  EXPECT_NEAR(result.duration_s, source_video, 1.0 / 30);
  // The sound is the source's tone, not silence: as loud as the source's (lavfi's sine is
  // at 1/8 of full scale, -21 dB), and far above the -91 dB of digital silence.
  EXPECT_NEAR(mean_volume_db(out), mean_volume_db(source), 1.0);
  EXPECT_GT(mean_volume_db(out), -30.0);
  // faststart: the index of both tracks before the media data.
  const auto boxes = dancer::testing::mp4_top_level_boxes(out);
  ASSERT_GE(index_of(boxes, "moov"), 0);
  ASSERT_GE(index_of(boxes, "mdat"), 0);
  EXPECT_LT(index_of(boxes, "moov"), index_of(boxes, "mdat"));
}

TEST(Proxy, APosterIsAJpegOfTheProxysSizeFromAThirdIn) {
  TempDir dir;
  const auto source = make_clip(dir, "source.mp4", "size=640x360:rate=25:duration=3", "");
  const ProxyResult result = make(source, dir / "proxy.mp4");
  ASSERT_FALSE(result.poster_jpeg.empty());
  EXPECT_NEAR(result.poster_time_s, 1.0, 1.0 / 25 + 1e-9);
  const auto poster = dir / "poster.jpg";
  write_file(poster, result.poster_jpeg);
  // JPEG's SOI marker, and what ffprobe makes of the file.
  EXPECT_EQ(result.poster_jpeg.substr(0, 3), std::string("\xFF\xD8\xFF"));
  const auto probe = ffprobe(poster);
  const auto* image = stream_of(probe, "video");
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->at("codec_name"), "mjpeg");
  EXPECT_EQ(image->at("width"), 640);
  EXPECT_EQ(image->at("height"), 360);
  // It is the frame at that time, in its colours: close to what ffmpeg decodes there (45 dB;
  // the frames a step before or after are at 24 dB, and limited-range YUV stored as JPEG's
  // full range was at 28 dB).
  const auto reference = dir / "reference.png";
  ASSERT_EQ(
      run_command(kFfmpeg + "-ss " + std::to_string(result.poster_time_s) + " -i " +
                  shell_quote(source.string()) + " -frames:v 1 " + shell_quote(reference.string()))
          .exit_code,
      0);
  const auto psnr = run_command("ffmpeg -nostdin -hide_banner -i " + shell_quote(poster.string()) +
                                " -i " + shell_quote(reference.string()) +
                                " -lavfi psnr -f null - 2>&1 | grep -o 'average:[0-9.inf]*'");
  ASSERT_NE(psnr.output.find("average:"), std::string::npos) << psnr.output;
  const std::string value = psnr.output.substr(psnr.output.find(':') + 1);
  EXPECT_TRUE(value.rfind("inf", 0) == 0 || std::stod(value) > 38.0) << psnr.output;
}

TEST(Proxy, DisplayRotationIsAppliedSoAPortraitPhoneVideoStaysPortrait) {
  TempDir dir;
  // A 1920x1080 stream with a 90-degree display matrix: shown as 1080x1920.
  const auto upright = make_clip(dir, "upright.mp4", "size=1920x1080:rate=30:duration=1", "");
  const auto source = dir / "rotated.mp4";
  ASSERT_EQ(run_command(kFfmpeg + "-i " + shell_quote(upright.string()) +
                        " -c copy -metadata:s:v:0 rotate=90 " + shell_quote(source.string()))
                .exit_code,
            0);
  const auto out = dir / "proxy.mp4";
  const ProxyResult result = make(source, out);
  // A quarter turn (FFmpeg reads the "rotate=90" tag as 270 degrees clockwise).
  EXPECT_EQ(result.rotation_degrees % 180, 90);
  const auto probe = ffprobe(out);
  const auto* video = stream_of(probe, "video");
  ASSERT_NE(video, nullptr);
  EXPECT_EQ(video->at("height"), 720);
  EXPECT_EQ(video->at("width"), 406);  // 1080 * 720 / 1920 = 405, made even
  EXPECT_EQ(result.width, 406);
  EXPECT_EQ(result.height, 720);
  // The picture itself is upright: no display matrix is left for a player to apply twice.
  const auto r = run_command(
      "ffprobe -v error -select_streams v:0 -show_entries "
      "stream_side_data=rotation -of csv=p=0 " +
      shell_quote(out.string()));
  EXPECT_EQ(r.output.find_first_of("123456789"), std::string::npos) << r.output;
}

TEST(Proxy, ASilentSourceGivesAProxyWithoutAudio) {
  TempDir dir;
  const auto source = make_clip(dir, "silent.mp4", "size=320x240:rate=25:duration=1", "");
  const auto out = dir / "proxy.mp4";
  const ProxyResult result = make(source, out);
  EXPECT_FALSE(result.audio);
  EXPECT_TRUE(result.audio_note.empty());
  const auto probe = ffprobe(out);
  EXPECT_EQ(stream_of(probe, "audio"), nullptr);
  ASSERT_NE(stream_of(probe, "video"), nullptr);
  EXPECT_EQ(stream_of(probe, "video")->at("height"), 240);  // never scaled up
}

TEST(Proxy, AudioLongerThanTheVideoIsCutAtTheVideosEnd) {
  TempDir dir;
  // 48 kHz stereo (two sines joined) running 2 s past a 1 s picture.
  const auto source = dir / "long_audio.mkv";
  ASSERT_EQ(run_command(kFfmpeg +
                        "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i "
                        "sine=frequency=300:sample_rate=48000:duration=3 -f lavfi -i "
                        "sine=frequency=500:sample_rate=48000:duration=3 -filter_complex "
                        "'[1:a][2:a]join=inputs=2:channel_layout=stereo[a]' -map 0:v -map '[a]' "
                        "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a flac " +
                        shell_quote(source.string()))
                .exit_code,
            0);
  const auto out = dir / "proxy.mp4";
  const ProxyResult result = make(source, out);
  EXPECT_TRUE(result.audio);
  EXPECT_EQ(result.audio_channels, 2);
  EXPECT_EQ(result.audio_sample_rate, 48000);
  EXPECT_NEAR(static_cast<double>(result.audio_samples) / 48000, 1.0, 1.0 / 25);
  const auto probe = ffprobe(out);
  const auto* audio = stream_of(probe, "audio");
  ASSERT_NE(audio, nullptr);
  EXPECT_EQ(audio->at("channels"), 2);
  EXPECT_NEAR(number(audio->at("duration")), 1.0, 1.0 / 25 + 1024.0 / 48000);
}

TEST(Proxy, AnAudioRateAacDoesNotHaveIsResampledTo48k) {
  TempDir dir;
  const auto source = dir / "odd_rate.mkv";
  ASSERT_EQ(run_command(kFfmpeg +
                        "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i "
                        "sine=frequency=440:sample_rate=37800:duration=1 -c:v libx264 -preset "
                        "ultrafast -pix_fmt yuv420p -c:a pcm_s16le " +
                        shell_quote(source.string()))
                .exit_code,
            0);
  const auto out = dir / "proxy.mp4";
  const ProxyResult result = make(source, out);
  EXPECT_EQ(result.audio_sample_rate, 48000);
  EXPECT_NEAR(static_cast<double>(result.audio_samples) / 48000, 1.0, 1.0 / 25);
  const auto probe = ffprobe(out);
  ASSERT_NE(stream_of(probe, "audio"), nullptr);
  EXPECT_EQ(stream_of(probe, "audio")->at("sample_rate"), "48000");
  EXPECT_NEAR(mean_volume_db(out), mean_volume_db(source), 1.0);
}

TEST(Proxy, AFileWithoutVideoIsRefused) {
  TempDir dir;
  const auto source = dancer::testing::make_test_media(dir.path(), "audio_only_m4a");
  Fd fd(dir / "proxy.mp4", kRdwrNew);
  try {
    make_proxy(common::FileSource(source), fd.get(), fast_options());
    FAIL() << "no error";
  } catch (const MediaError& e) {
    EXPECT_EQ(e.code(), MediaErrorCode::kNoVideo);
  }
}

// Peak RSS (KiB) of a child process that makes the proxy of `source`.
long proxy_peak_rss_kib(const std::filesystem::path& source, const std::filesystem::path& out) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      Fd fd(out, kRdwrNew);
      make_proxy(common::FileSource(source), fd.get(), fast_options());
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  struct rusage usage {};
  EXPECT_EQ(::wait4(pid, &status, 0, &usage), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return usage.ru_maxrss;
}

TEST(Proxy, MemoryStaysFlatWithTheLengthOfTheVideo) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MB), so peak RSS grows with the
  // allocations made, not with what is held: 47 MB more for the long clip there.
  GTEST_SKIP() << "peak RSS is not what is held under AddressSanitizer";
#endif
  TempDir dir;
  const auto short_clip = make_clip(dir, "short.mp4", "size=640x360:rate=30:duration=3",
                                    "frequency=440:sample_rate=48000:duration=3", "-shortest");
  const auto long_clip = make_clip(dir, "long.mp4", "size=640x360:rate=30:duration=60",
                                   "frequency=440:sample_rate=48000:duration=60", "-shortest");
  const long short_kib = proxy_peak_rss_kib(short_clip, dir / "short_proxy.mp4");
  const long long_kib = proxy_peak_rss_kib(long_clip, dir / "long_proxy.mp4");
  // 20 times the length: what grows is the muxer's index (some 30 bytes per frame and AAC
  // packet: ~0.2 MiB here). Decoded frames or audio held back would be 1 GiB.
  EXPECT_LT(long_kib - short_kib, 8 * 1024) << short_kib << " KiB -> " << long_kib << " KiB";
  const auto probe = ffprobe(dir / "long_proxy.mp4");
  ASSERT_NE(stream_of(probe, "audio"), nullptr);
  EXPECT_NEAR(number(stream_of(probe, "audio")->at("duration")), 60.0, 0.05);
}

TEST(VideoEncoderAudio, AudioWithoutAnAudioTrackIsRefused) {
  TempDir dir;
  Fd fd(dir / "out.mp4", kRdwrNew);
  VideoEncoderOptions options;
  options.width = 64;
  options.height = 48;
  options.fps = 25;
  VideoEncoder encoder(fd.get(), options);
  const std::vector<float> samples(2048, 0.0F);
  try {
    encoder.write_audio(samples.data(), 1024, 0.0);
    FAIL() << "no error";
  } catch (const MediaError& e) {
    EXPECT_EQ(e.code(), MediaErrorCode::kInvalidData);
  }
}

TEST(VideoEncoderAudio, ALateTrackStartsLate) {
  // Audio whose first sample is at 0.5 s: the track's samples start there (an edit list or
  // a start time ffprobe reports), so a late-starting source stays in sync.
  TempDir dir;
  const auto out = dir / "late.mp4";
  {
    Fd fd(out, kRdwrNew);
    VideoEncoderOptions options;
    options.width = 64;
    options.height = 48;
    options.fps = 25;
    options.preset = "ultrafast";
    options.audio.sample_rate = 48000;
    options.audio.channels = 1;
    VideoEncoder encoder(fd.get(), options);
    const std::vector<std::uint8_t> gray(64 * 48 * 3, 128);
    std::vector<float> tone(48000 / 25);
    for (std::size_t i = 0; i < tone.size(); ++i) {
      tone[i] = static_cast<float>(0.5 * std::sin(static_cast<double>(i) * 0.05));
    }
    for (int i = 0; i < 50; ++i) {
      encoder.write_bgr(gray.data(), 64 * 3, i / 25.0);
      if (i >= 12) encoder.write_audio(tone.data(), static_cast<int>(tone.size()), i / 25.0);
    }
    encoder.finish();
    EXPECT_EQ(encoder.audio_samples_written(), 38 * static_cast<std::int64_t>(tone.size()));
  }
  const auto r = run_command(
      "ffprobe -v error -select_streams a:0 -show_entries "
      "stream=start_time,duration -of json " +
      shell_quote(out.string()));
  const auto stream = nlohmann::json::parse(r.output).at("streams").at(0);
  EXPECT_NEAR(number(stream.at("start_time")), 0.48, 0.03);
  EXPECT_NEAR(number(stream.at("duration")), 38.0 / 25, 0.03);
}

TEST(JpegEncoder, ABgrImageDecodesBackToItsColours) {
  TempDir dir;
  // Left half pure red, right half pure blue (BGR order).
  const int w = 64;
  const int h = 32;
  std::vector<std::uint8_t> bgr(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &bgr[(static_cast<std::size_t>(y) * w + x) * 3];
      p[0] = x < w / 2 ? 0 : 255;
      p[1] = 0;
      p[2] = x < w / 2 ? 255 : 0;
    }
  }
  const auto path = dir / "image.jpg";
  write_file(path, encode_jpeg(bgr.data(), w, h, w * 3));
  const auto r = run_command("ffmpeg -nostdin -hide_banner -loglevel error -i " +
                             shell_quote(path.string()) + " -f rawvideo -pix_fmt rgb24 -");
  ASSERT_EQ(r.output.size(), static_cast<std::size_t>(w) * h * 3);
  const auto at = [&](int x, int y, int c) {
    return static_cast<int>(static_cast<std::uint8_t>(r.output[(y * w + x) * 3 + c]));
  };
  // Full range: pure red stays at 255, not the 230 of limited-range YUV read as full.
  EXPECT_GT(at(8, 16, 0), 245);  // red on the left
  EXPECT_LT(at(8, 16, 2), 15);
  EXPECT_GT(at(56, 16, 2), 245);  // blue on the right
  EXPECT_LT(at(56, 16, 0), 15);
  EXPECT_THROW(encode_jpeg(bgr.data(), w, h, w * 3, 1), MediaError);
}

}  // namespace
}  // namespace dancer::media
