#include "media/av_log.h"

extern "C" {
#include <libavutil/log.h>
}

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::TempDir;

struct Collected {
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> lines;
  AvLogSink sink() {
    return [this](int level, std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(level, std::string(line));
    };
  }
};

TEST(AvLogTest, CorruptFileMessagesReachTheSinkNotStderr) {
  TempDir dir;
  const auto truncated = dancer::testing::make_test_media(dir.path(), "truncated_mp4", 0.4);
  Collected collected;
  install_av_log_sink(collected.sink());
  dancer::testing::StderrCapture capture(dir / "stderr.txt");
  EXPECT_THROW(probe_file(truncated), MediaError);
  const std::string stderr_text = capture.finish();
  install_av_log_sink({});
  EXPECT_EQ(stderr_text, "");
  ASSERT_FALSE(collected.lines.empty());
  bool moov = false;
  for (const auto& [level, line] : collected.lines) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    moov = moov || line.find("moov atom not found") != std::string::npos;
  }
  EXPECT_TRUE(moov) << collected.lines.front().second;
}

TEST(AvLogTest, FragmentsAreJoinedPerThreadWithTheWorstLevel) {
  Collected collected;
  install_av_log_sink(collected.sink());
  constexpr int kThreads = 4;
  constexpr int kLines = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) {
        av_log(nullptr, AV_LOG_WARNING, "thread %d ", t);
        av_log(nullptr, AV_LOG_ERROR, "line %d", i);
        av_log(nullptr, AV_LOG_WARNING, " end\n");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // Below av_log_get_level() (AV_LOG_INFO by default): dropped like FFmpeg's callback does.
  av_log(nullptr, AV_LOG_DEBUG, "not shown\n");
  install_av_log_sink({});
  ASSERT_EQ(collected.lines.size(), static_cast<std::size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const auto& [level, line] : collected.lines) {
    EXPECT_EQ(level, AV_LOG_ERROR);
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "thread %d line %d end", &t, &i), 2) << line;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(i, next[t]++) << line;  // every thread's lines whole and in order
    EXPECT_EQ(line, "thread " + std::to_string(t) + " line " + std::to_string(i) + " end");
  }
}

TEST(AvLogTest, ColouredLevelsAreReportedWithoutTheColour) {
  Collected collected;
  install_av_log_sink(collected.sink());
  av_log(nullptr, AV_LOG_C(134) | AV_LOG_WARNING, "tinted\n");
  install_av_log_sink({});
  ASSERT_EQ(collected.lines.size(), 1u);
  EXPECT_EQ(collected.lines[0],
            std::make_pair(static_cast<int>(AV_LOG_WARNING), std::string("tinted")));
}

TEST(AvLogTest, LongMessagesArriveWhole) {
  Collected collected;
  install_av_log_sink(collected.sink());
  const std::string long_text(5000, 'x');
  av_log(nullptr, AV_LOG_ERROR, "%s\n", long_text.c_str());
  install_av_log_sink({});
  ASSERT_EQ(collected.lines.size(), 1u);
  EXPECT_EQ(collected.lines[0].second, long_text);
}

}  // namespace
}  // namespace dancer::media
