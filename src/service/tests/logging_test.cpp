#include "service/logging.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" {
#include <libavutil/log.h>
}

#include "media/av_log.h"
#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Leave a logger that does not point into the deleted temp dir.
    init_logging(LoggingConfig{"INFO", "text", {}, 0, 0});
  }
  void init(std::string level, std::string format, std::size_t max_bytes = 10 << 20,
            std::size_t max_files = 5) {
    init_logging(
        LoggingConfig{std::move(level), std::move(format), log_path(), max_bytes, max_files});
  }
  std::filesystem::path log_path() const { return dir_ / "logs/service.log"; }
  std::vector<std::string> logged_lines() {
    spdlog::default_logger()->flush();
    return read_lines(log_path());
  }
  testing::TempDir dir_;
};

TEST(ParseLogLevelTest, AcceptsPythonAndSpdlogNamesInAnyCase) {
  EXPECT_EQ(parse_log_level("DEBUG"), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("INFO"), spdlog::level::info);
  EXPECT_EQ(parse_log_level("WARNING"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("ERROR"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("CRITICAL"), spdlog::level::critical);
  EXPECT_EQ(parse_log_level("trace"), spdlog::level::trace);
  EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("err"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("Info"), spdlog::level::info);
  EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
}

TEST(ParseLogLevelTest, RejectsUnknownNamesNamingTheVariable) {
  for (const char* bad : {"", "VERBOSE", "inf", "DEBUG "}) {
    try {
      parse_log_level(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("LOG_LEVEL")) << bad;
    }
  }
}

TEST_F(LoggingTest, RejectsAnUnknownFormatNamingTheVariable) {
  try {
    init_logging(LoggingConfig{"INFO", "xml", {}, 0, 0});
    ADD_FAILURE() << "accepted LOG_FORMAT=xml";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("LOG_FORMAT"));
  }
}

TEST_F(LoggingTest, JsonFormatWritesOneParsableObjectPerLine) {
  init("INFO", "json");
  const std::string tricky = "quote \" backslash \\ tab \t newline \n unicode \xc3\xa9 end";
  spdlog::info("first message");
  spdlog::warn("{}", tricky);
  spdlog::error("number {}", 42);

  const auto lines = logged_lines();
  ASSERT_EQ(lines.size(), 3u);  // the embedded newline is escaped, not a line break
  const std::regex iso8601_utc_ms(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  std::vector<nlohmann::json> parsed;
  for (const auto& line : lines) {
    nlohmann::json object;
    ASSERT_NO_THROW(object = nlohmann::json::parse(line)) << line;
    for (const char* field : {"time", "level", "logger", "message", "thread"}) {
      EXPECT_TRUE(object.contains(field)) << field << " missing in " << line;
    }
    EXPECT_TRUE(std::regex_match(object["time"].get<std::string>(), iso8601_utc_ms)) << line;
    EXPECT_EQ(object["logger"], "dancer");
    EXPECT_TRUE(object["thread"].is_number_unsigned());
    parsed.push_back(object);
  }
  EXPECT_EQ(parsed[0]["level"], "INFO");
  EXPECT_EQ(parsed[0]["message"], "first message");
  EXPECT_EQ(parsed[1]["level"], "WARNING");
  EXPECT_EQ(parsed[1]["message"], tricky);
  EXPECT_EQ(parsed[2]["level"], "ERROR");
  EXPECT_EQ(parsed[2]["message"], "number 42");
}

TEST_F(LoggingTest, JsonFormatSurvivesInvalidUtf8) {
  init("INFO", "json");
  spdlog::info("raw key uploads/\xff\xfe.mp4");
  const auto lines = logged_lines();
  ASSERT_EQ(lines.size(), 1u);
  const auto object = nlohmann::json::parse(lines[0]);
  EXPECT_THAT(object["message"].get<std::string>(), HasSubstr("uploads/"));
  EXPECT_THAT(object["message"].get<std::string>(), HasSubstr(".mp4"));
}

TEST_F(LoggingTest, TextFormatCarriesTimeLevelLoggerAndMessage) {
  init("DEBUG", "text");
  spdlog::debug("debug detail");
  spdlog::info("started {} workers", 3);
  const auto lines = logged_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(std::regex_search(
      lines[1], std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z info \[dancer\])")))
      << lines[1];
  EXPECT_THAT(lines[0], HasSubstr("debug detail"));
  EXPECT_THAT(lines[1], HasSubstr("started 3 workers"));
}

TEST_F(LoggingTest, LevelFiltersLowerSeverities) {
  init("WARNING", "json");
  spdlog::debug("d");
  spdlog::info("i");
  spdlog::warn("w");
  spdlog::error("e");
  spdlog::critical("c");
  std::vector<std::string> messages;
  for (const auto& line : logged_lines()) {
    messages.push_back(nlohmann::json::parse(line)["message"]);
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"w", "e", "c"}));
}

TEST_F(LoggingTest, FileRotatesAtTheSizeCapAndKeepsMaxFiles) {
  constexpr std::size_t kCap = 2048;
  init("INFO", "text", kCap, 2);
  for (int i = 0; i < 200; ++i) spdlog::info("line {:04} {}", i, std::string(60, 'x'));
  spdlog::default_logger()->flush();

  const auto logs = log_path().parent_path();
  const auto rotated1 = logs / "service.1.log";
  const auto rotated2 = logs / "service.2.log";
  ASSERT_TRUE(std::filesystem::exists(log_path()));
  ASSERT_TRUE(std::filesystem::exists(rotated1));
  ASSERT_TRUE(std::filesystem::exists(rotated2));
  EXPECT_FALSE(std::filesystem::exists(logs / "service.3.log"));
  for (const auto& file : {log_path(), rotated1, rotated2}) {
    EXPECT_LE(std::filesystem::file_size(file), kCap) << file;
    EXPECT_GT(std::filesystem::file_size(file), 0u) << file;
  }
  // The newest line is in the live file; the oldest were rotated away.
  EXPECT_THAT(read_lines(log_path()).back(), HasSubstr("line 0199"));
  const std::string everything =
      testing::read_file(log_path()) + testing::read_file(rotated1) + testing::read_file(rotated2);
  EXPECT_THAT(everything, Not(HasSubstr("line 0000")));
}

TEST_F(LoggingTest, SecretsAreMaskedInTheFileWhateverTheFormat) {
  const std::string secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  for (const char* format : {"text", "json"}) {
    init("INFO", format);
    spdlog::info("connecting to postgresql://dancer:s3cr3t-pw@db:5432/dancer");
    spdlog::warn("credentials: {}", secret_key);
    spdlog::default_logger()->flush();
    const std::string flushed = testing::read_file(log_path());
    EXPECT_THAT(flushed, Not(HasSubstr("s3cr3t-pw"))) << format;
    EXPECT_THAT(flushed, Not(HasSubstr(secret_key))) << format;
    EXPECT_THAT(flushed, HasSubstr("postgresql://dancer:***@db:5432/dancer")) << format;
    std::filesystem::remove(log_path());
  }
}

// A logger writing "<level>|<message>" lines to a string, and a clock the test moves.
struct LibraryLogHarness {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
  std::chrono::steady_clock::time_point now{};
  LibraryLogHarness() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    sink->set_pattern("%l|%v");
    logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::trace);
  }
  LibraryLogOptions options(std::size_t per_second = 20) {
    LibraryLogOptions o;
    o.max_lines_per_second = per_second;
    o.logger = logger;
    o.clock = [this] { return now; };
    return o;
  }
  std::vector<std::string> lines() {
    std::vector<std::string> result;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) result.push_back(line);
    return result;
  }
};

TEST(LibraryLogSinkTest, BurstIsCutToTheRateAndSummarised) {
  LibraryLogHarness h;
  {
    auto sink = make_av_log_sink("ffmpeg", h.options(20));
    for (int i = 0; i < 10000; ++i) sink(AV_LOG_ERROR, "[h264 @ 0x1] error while decoding MB");
    ASSERT_EQ(h.lines().size(), 20u);
    EXPECT_EQ(h.lines()[0], "warning|ffmpeg: [h264 @ 0x1] error while decoding MB");
    // The next window starts with the count of what the burst lost.
    h.now += std::chrono::milliseconds(1500);
    sink(AV_LOG_FATAL, "last");
    const auto lines = h.lines();
    ASSERT_EQ(lines.size(), 22u);
    EXPECT_EQ(lines[20], "warning|ffmpeg: suppressed 9980 messages (more than 20 a second)");
    EXPECT_EQ(lines[21], "error|ffmpeg: last");
    // A second burst, then the sink goes away: its destructor reports the count.
    for (int i = 0; i < 100; ++i) sink(AV_LOG_WARNING, "chatter");
  }
  const auto lines = h.lines();
  ASSERT_EQ(lines.size(), 22u + 19u + 1u);
  EXPECT_EQ(lines.back(), "debug|ffmpeg: suppressed 81 messages (more than 20 a second)");
}

TEST(LibraryLogSinkTest, DisabledLevelsUseNoBudget) {
  LibraryLogHarness h;
  h.logger->set_level(spdlog::level::info);
  auto sink = make_av_log_sink("ffmpeg", h.options(2));
  for (int i = 0; i < 100; ++i) sink(AV_LOG_WARNING, "debug chatter");  // -> debug: off
  sink(AV_LOG_ERROR, "one");
  sink(AV_LOG_ERROR, "two");
  EXPECT_EQ(h.lines(), (std::vector<std::string>{"warning|ffmpeg: one", "warning|ffmpeg: two"}));
}

TEST(LibraryLogSinkTest, RedactsBeforeCuttingAndCutsLongMessages) {
  LibraryLogHarness h;
  LibraryLogOptions options = h.options();
  options.max_message_bytes = 300;
  auto sink = make_library_log_sink("postgres", options);
  sink("WARNING:  could not connect to postgresql://dancer:hunter2@db.internal:5432/dancer\n");
  // The URL's password straddles the 300-byte cut: cut first, "user:pw@" would lose its '@'
  // and no longer look like a password.
  sink("NOTICE:  " + std::string(260, 'x') + " postgresql://dancer:hunter2secretpw@db/x");
  sink("NOTICE:  line\tone\nline two\n");
  sink(std::string(5000, 'y'));
  const auto lines = h.lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "warning|postgres: WARNING:  could not connect to "
            "postgresql://dancer:***@db.internal:5432/dancer");
  EXPECT_THAT(lines[1], Not(HasSubstr("hunter2")));
  EXPECT_THAT(lines[1], HasSubstr("dancer:***@db"));
  EXPECT_THAT(lines[1], StartsWith("debug|postgres: NOTICE:  xxx"));
  EXPECT_EQ(lines[2], "debug|postgres: NOTICE:  line one line two");
  // 300 bytes and the ellipsis.
  EXPECT_EQ(lines[3], "debug|postgres: " + std::string(300, 'y') + "\xE2\x80\xA6");
}

TEST(LibraryLogSinkTest, AvLevelsMapToOperatorLevels) {
  EXPECT_EQ(level_for_av_level(AV_LOG_PANIC), spdlog::level::err);
  EXPECT_EQ(level_for_av_level(AV_LOG_FATAL), spdlog::level::err);
  EXPECT_EQ(level_for_av_level(AV_LOG_ERROR), spdlog::level::warn);
  EXPECT_EQ(level_for_av_level(AV_LOG_WARNING), spdlog::level::debug);
  EXPECT_EQ(level_for_av_level(AV_LOG_INFO), spdlog::level::debug);
  EXPECT_EQ(level_for_av_level(AV_LOG_VERBOSE), spdlog::level::trace);
  EXPECT_EQ(level_for_av_level(AV_LOG_DEBUG), spdlog::level::trace);
}

TEST_F(LoggingTest, FfmpegMessagesBecomeJsonLines) {
  const auto truncated = testing::make_test_media(dir_.path(), "truncated_mp4", 0.4);
  std::vector<std::string> stderr_lines;
  {
    dancer::testing::StderrCapture capture(dir_ / "stderr.txt");
    // The console sink writes to fd 2 (through stdio): capture it too.
    init("INFO", "json");
    media::install_av_log_sink(make_av_log_sink());
    EXPECT_THROW(media::probe_file(truncated), media::MediaError);
    media::install_av_log_sink({});
    spdlog::default_logger()->flush();
    capture.finish();
    stderr_lines = read_lines(dir_ / "stderr.txt");
  }
  // Nothing raw on stderr: every line there is one of the logger's JSON objects.
  ASSERT_FALSE(stderr_lines.empty());
  bool moov = false;
  for (const std::string& line : stderr_lines) {
    const auto object = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(object.is_discarded()) << line;
    const std::string message = object.at("message");
    if (message.find("moov atom not found") != std::string::npos) {
      moov = true;
      EXPECT_EQ(object.at("level"), "WARNING");
      EXPECT_EQ(message.rfind("ffmpeg: ", 0), 0u) << message;
    }
  }
  EXPECT_TRUE(moov);
  // The same lines reach the log file.
  bool in_file = false;
  for (const std::string& line : logged_lines()) {
    in_file = in_file || line.find("moov atom not found") != std::string::npos;
  }
  EXPECT_TRUE(in_file);
}

TEST(RedactingSinkTest, ForwardsMaskedMessagesToEveryTarget) {
  std::ostringstream first, second;
  auto sink = make_redacting_sink({std::make_shared<spdlog::sinks::ostream_sink_st>(first),
                                   std::make_shared<spdlog::sinks::ostream_sink_st>(second)});
  sink->set_formatter(make_json_formatter());
  spdlog::logger logger("probe", sink);
  logger.info("Authorization: Bearer abc.def.ghi");
  const auto a = nlohmann::json::parse(first.str());
  const auto b = nlohmann::json::parse(second.str());
  EXPECT_EQ(a["message"], "Authorization: ***");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a["logger"], "probe");
}

struct RedactionCase {
  std::string input;
  std::string secret;    // must be gone
  std::string expected;  // full expected output
};

TEST(RedactSecretsTest, MasksEveryKindOfSecret) {
  const std::vector<RedactionCase> cases = {
      {"DATABASE_URL=postgresql://dancer:hunter2@db.internal:5432/jobs", "hunter2",
       "DATABASE_URL=postgresql://dancer:***@db.internal:5432/jobs"},
      {"proxy https://u:p%40ss@proxy:3128 failed", "p%40ss",
       "proxy https://u:***@proxy:3128 failed"},
      {"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI",
       "aws_secret_access_key = ***"},
      {R"({"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "abc/def+ghi", "Token": "FQoGZXIvYXdzEJr"})",
       "abc/def+ghi",
       R"({"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": ***, "Token": ***})"},
      {"AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEHQaCXVzLWVhc3QtMSJHMEUCIQD", "IQoJb3J",
       "AWS_SESSION_TOKEN=***"},
      {"X-Amz-Security-Token: FwoGZXIvYXdzEBYaDH", "FwoGZXIvYXdz", "X-Amz-Security-Token: ***"},
      {"GET "
       "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKID%2F20240101&X-Amz-Signature=0f1e2d3c&x=1",
       "0f1e2d3c",
       "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKID%2F20240101&X-Amz-Signature=***&x=1"},
      {"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, "
       "SignedHeaders=host;x-amz-date, Signature=deadbeef",
       "deadbeef", "Authorization: ***"},
      {R"(headers {"authorization":"Basic dXNlcjpwYXNz","host":"x"})", "dXNlcjpwYXNz",
       R"(headers {"authorization":***,"host":"x"})"},
      {"host=db user=dancer password=pa55word dbname=jobs", "pa55word",
       "host=db user=dancer password=*** dbname=jobs"},
      {R"(config {"password": "two words"})", "two words", R"(config {"password": ***})"},
      {"leaked wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in a message", "wJalrXUtnFEMI",
       "leaked *** in a message"},
  };
  for (const auto& c : cases) {
    const std::string out = redact_secrets(c.input);
    EXPECT_THAT(out, Not(HasSubstr(c.secret))) << c.input;
    EXPECT_EQ(out, c.expected) << c.input;
  }
}

TEST(RedactSecretsTest, LeavesOrdinaryMessagesAlone) {
  for (const std::string& text : {
           std::string("processed s3://dancer-uploads/uploads/walk_01.mp4 in 12.5 s"),
           std::string("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 matches"),
           std::string("access key id AKIAIOSFODNN7EXAMPLE from the environment"),
           std::string("authorization failed for the queue; check the IAM policy"),
           std::string("SQS endpoint http://127.0.0.1:4566/000000000000/dancer-processing-queue"),
           std::string("key uploads/2024/05/01/Walk_Video_001.mp4 (1048576 bytes)"),
           std::string(""),
       }) {
    EXPECT_EQ(redact_secrets(text), text);
  }
}

}  // namespace
}  // namespace dancer::service
