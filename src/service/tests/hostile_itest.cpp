// Hostile uploads against the real binary and the local S3+SQS emulator: files made to
// exhaust the memory of whoever parses them. Every parse happens in the sandboxed,
// memory-limited child, so each job fails with a clear reason while the service process
// itself stays small (peak RSS read from /proc/<pid>/status while it runs).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/job_store.h"
#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::testing {
namespace {

// --- a hand-written MP4 whose sample tables claim `samples` samples ---------------------

std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string u16(std::uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string box(const std::string& type, const std::string& payload) {
  return u32(static_cast<std::uint32_t>(payload.size() + 8)) + type + payload;
}
std::string full_box(const std::string& type, const std::string& payload) {
  return box(type, u32(0) + payload);
}

// ISO/IEC 14496-12 boxes, just enough for FFmpeg's mov demuxer to build its index: one
// chunk holding `samples` samples of a constant size (stsz with sample_size != 0 carries
// no table), so the file stays ~600 bytes while the demuxer allocates an index entry per
// sample (mov_build_index).
std::string mp4_with_sample_count(std::uint32_t samples) {
  const std::string matrix = u32(0x10000) + u32(0) + u32(0) + u32(0) + u32(0x10000) + u32(0) +
                             u32(0) + u32(0) + u32(0x40000000);
  const std::string mvhd =
      full_box("mvhd", u32(0) + u32(0) + u32(1000) + u32(samples) + u32(0x10000) + u16(0x100) +
                           std::string(10, '\0') + matrix + std::string(24, '\0') + u32(2));
  const std::string tkhd =
      box("tkhd", u32(3) + u32(0) + u32(0) + u32(1) + u32(0) + u32(samples) + std::string(8, '\0') +
                      u16(0) + u16(0) + u16(0) + u16(0) + matrix + u32(64u << 16) + u32(64u << 16));
  const std::string mdhd =
      full_box("mdhd", u32(0) + u32(0) + u32(1000) + u32(samples) + u16(0x55c4) + u16(0));
  const std::string hdlr =
      full_box("hdlr", u32(0) + "vide" + std::string(12, '\0') + std::string("v\0", 2));
  const std::string avc1 =
      box("avc1", std::string(6, '\0') + u16(1) + std::string(16, '\0') + u16(64) + u16(64) +
                      u32(0x480000) + u32(0x480000) + u32(0) + u16(1) + std::string(32, '\0') +
                      u16(24) + u16(0xffff));
  const std::string stbl = box(
      "stbl", full_box("stsd", u32(1) + avc1) + full_box("stts", u32(1) + u32(samples) + u32(1)) +
                  full_box("stsc", u32(1) + u32(1) + u32(samples) + u32(1)) +
                  full_box("stsz", u32(1) + u32(samples)) + full_box("stco", u32(1) + u32(8)));
  const std::string dinf = box("dinf", full_box("dref", u32(1) + box("url ", u32(1))));
  const std::string minf = box("minf", full_box("vmhd", u32(0) + u32(0)) + dinf + stbl);
  const std::string moov = box("moov", mvhd + box("trak", tkhd + box("mdia", mdhd + hdlr + minf)));
  return box("ftyp", std::string("isom") + u32(512) + "isomiso2avc1mp41") + moov +
         box("mdat", std::string(64, '\0'));
}

long vm_hwm_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class HostileUploads : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
    if (!endpoint) GTEST_SKIP();
    harness_ = std::make_unique<ServiceHarness>(*endpoint);
  }

  void ffmpeg(const std::string& args) {
    auto r = run_command("ffmpeg -nostdin -v error -y " + args + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output;
  }

  // An MKV of 300 streams, each the same single 4K H.264 frame.
  void make_streams_bomb(const std::string& name) {
    ffmpeg(
        "-f lavfi -i testsrc2=size=3840x2160:rate=1 -frames:v 1 -c:v libx264 -preset "
        "ultrafast " +
        shell_quote((media_ / "frame4k.mkv").string()));
    std::string maps;
    for (int i = 0; i < 300; ++i) maps += " -map 0:v";
    ffmpeg("-i " + shell_quote((media_ / "frame4k.mkv").string()) + maps + " -c copy " +
           shell_quote((media_ / name).string()));
  }

  // Runs `run --until-empty` in the background; returns its peak RSS in KiB.
  long run_and_measure_peak_rss() {
    const pid_t pid = harness_->spawn({"run", "--until-empty"}, media_ / "service.log");
    long peak = 0;
    int status = 0;
    for (int i = 0; i < 3000; ++i) {  // at most 300 s
      peak = std::max(peak, vm_hwm_kib(pid));
      if (::waitpid(pid, &status, WNOHANG) == pid) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(media_ / "service.log");
    return peak;
  }

  std::map<std::string, store::Job> jobs_by_key() { return harness_->jobs_by_key(); }

  std::unique_ptr<ServiceHarness> harness_;
  TempDir media_;
};

TEST_F(HostileUploads, MemoryBombsFailTheirJobsWhileTheServiceStaysSmall) {
  // 1. A ~1 KB MP4 whose tables claim 80 million samples.
  {
    std::ofstream out(media_ / "stsz-bomb.mp4", std::ios::binary);
    out << mp4_with_sample_count(80'000'000);
  }
  // 2. An MKV with 300 streams, each one 4K H.264 frame (the same one, mapped 300 times).
  make_streams_bomb("streams300.mkv");
  // 3. An MKV with 3 PNG streams of 6000x6000 (36 Mpx, over the 8K default).
  ffmpeg("-f lavfi -i color=c=gray:size=6000x6000:rate=1 -frames:v 1 -c:v png " +
         shell_quote((media_ / "big.mkv").string()));
  ffmpeg("-i " + shell_quote((media_ / "big.mkv").string()) +
         " -map 0:v -map 0:v -map 0:v -c copy " + shell_quote((media_ / "png3.mkv").string()));
  // 4. A normal clip, processed alongside.
  ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=10 -t 1 -pix_fmt yuv420p " +
         shell_quote((media_ / "normal.mp4").string()));

  harness_->env()["MAX_WORKERS"] = "2";
  harness_->env()["ANALYZER"] = "placeholder";
  for (const char* name : {"stsz-bomb.mp4", "streams300.mkv", "png3.mkv", "normal.mp4"}) {
    harness_->upload_and_notify(media_ / name, std::string("uploads/") + name);
  }
  const long peak_kib = run_and_measure_peak_rss();
  std::cout << "service peak RSS: " << peak_kib / 1024 << " MiB" << std::endl;
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 256 * 1024);

  auto jobs = jobs_by_key();
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs["uploads/normal.mp4"].status, store::JobStatus::kCompleted)
      << jobs["uploads/normal.mp4"].error_message;
  for (const char* name : {"stsz-bomb.mp4", "streams300.mkv", "png3.mkv"}) {
    const store::Job& job = jobs[std::string("uploads/") + name];
    // The bomb may parse (its index is bounded by the child's memory limit) and then fail
    // in the analysis; either way it ends, and ends as a failure with a reason.
    EXPECT_NE(job.status, store::JobStatus::kProcessing) << name;
    if (job.status == store::JobStatus::kFailed) {
      EXPECT_FALSE(job.error_message.empty()) << name;
    }
    std::cout << name << ": " << store::to_string(job.status) << ": " << job.error_message
              << std::endl;
  }
  EXPECT_EQ(jobs["uploads/streams300.mkv"].status, store::JobStatus::kFailed);
  EXPECT_NE(jobs["uploads/streams300.mkv"].error_message.find("safety limit"), std::string::npos)
      << jobs["uploads/streams300.mkv"].error_message;
  EXPECT_EQ(jobs["uploads/png3.mkv"].status, store::JobStatus::kFailed);
  EXPECT_NE(jobs["uploads/png3.mkv"].error_message.find("pixels allowed"), std::string::npos)
      << jobs["uploads/png3.mkv"].error_message;
  EXPECT_EQ(harness_->messages_left(), 0);
}

TEST_F(HostileUploads, SigtermEndsAProbeAtOnce) {
  // A probe that takes a while: 300 streams of one 4K H.264 frame each, with the stream cap
  // raised so avformat_find_stream_info decodes them all. SHUTDOWN_TIMEOUT is long: a probe
  // that did not end at SIGTERM would run to its end and the job would finish (the
  // placeholder analysis is instant); ended at once, the job is returned to the queue.
  make_streams_bomb("slow.mkv");
  harness_->env()["PROBE_MAX_STREAMS"] = "1024";
  harness_->env()["PROBE_MEMORY_LIMIT_MB"] = "8192";
  harness_->env()["PROBE_TIMEOUT"] = "300";
  harness_->env()["SHUTDOWN_TIMEOUT"] = "120";
  harness_->env()["ANALYZER"] = "placeholder";
  harness_->upload_and_notify(media_ / "slow.mkv", "uploads/slow.mkv");
  const pid_t pid = harness_->spawn({"run"}, media_ / "service.log");
  ASSERT_TRUE(ServiceHarness::wait_until(
      [&] {
        return ServiceHarness::count_occurrences(media_ / "service.log", "processing s3://") > 0;
      },
      60))
      << read_file(media_ / "service.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(ServiceHarness::wait_for(pid, 100), 0) << read_file(media_ / "service.log");
  auto jobs = jobs_by_key();
  ASSERT_EQ(jobs.count("uploads/slow.mkv"), 1u);
  const store::Job& job = jobs["uploads/slow.mkv"];
  EXPECT_EQ(job.status, store::JobStatus::kProcessing) << job.error_message;
  EXPECT_EQ(job.error_message, "interrupted by shutdown");
  EXPECT_EQ(job.retry_count, 0);
  EXPECT_EQ(harness_->messages_left(), 1);
}

}  // namespace
}  // namespace dancer::testing
