#include "service/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_support.h"

namespace dancer::service {
namespace {

TEST(ConfigTest, DefaultsMatchTheSeedService) {
  ServiceConfig c = load_config({});
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_EQ(c.queue.queue_name, "dancer-processing-queue");
  EXPECT_EQ(c.queue.queue_url, "");
  EXPECT_EQ(c.storage.bucket, "dancer-uploads");
  EXPECT_EQ(c.storage.prefix, "uploads/");
  EXPECT_EQ(c.download_dir, "./temp_downloads");
  EXPECT_EQ(c.max_workers, 2);
  EXPECT_TRUE(c.cleanup_after_processing);
  EXPECT_EQ(c.queue.wait_time_seconds, 20);
  EXPECT_EQ(c.queue.visibility_timeout_seconds, 300);
  EXPECT_EQ(c.database_url, "sqlite:///./dancer_uploads.db");
  EXPECT_EQ(c.log_level, "INFO");
  EXPECT_EQ(c.log_file, "analysis_service.log");
  EXPECT_EQ(c.shutdown_timeout_seconds, 25);
  EXPECT_EQ(c.health_port, 8080);
  EXPECT_EQ(c.sqs.endpoint, "");
  EXPECT_FALSE(c.s3.force_path_style);
}

TEST(ConfigTest, ReadsEveryVariable) {
  Environment env{{"AWS_REGION", "eu-west-1"},
                  {"SQS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/q"},
                  {"S3_BUCKET", "b"},
                  {"S3_PREFIX", "in/"},
                  {"DOWNLOAD_DIR", "/tmp/d"},
                  {"MAX_WORKERS", "8"},
                  {"CLEANUP_AFTER_PROCESSING", "false"},
                  {"SQS_WAIT_TIME", "5"},
                  {"SQS_VISIBILITY_TIMEOUT", "600"},
                  {"DATABASE_URL", "postgresql://u:p@h/db"},
                  {"LOG_LEVEL", "DEBUG"},
                  {"AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"},
                  {"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"},
                  {"S3_FORCE_PATH_STYLE", "true"},
                  {"MAX_FILE_SIZE", "2G"},
                  {"SUBJECT_HEIGHT_M", "1.75"}};
  ServiceConfig c = load_config(env);
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.sqs.region, "eu-west-1");
  EXPECT_EQ(c.queue.queue_url, "https://sqs.eu-west-1.amazonaws.com/1/q");
  EXPECT_EQ(c.storage.bucket, "b");
  EXPECT_EQ(c.storage.prefix, "in/");
  EXPECT_EQ(c.download_dir, "/tmp/d");
  EXPECT_EQ(c.max_workers, 8);
  EXPECT_FALSE(c.cleanup_after_processing);
  EXPECT_EQ(c.queue.wait_time_seconds, 5);
  EXPECT_EQ(c.queue.visibility_timeout_seconds, 600);
  EXPECT_EQ(c.database_url, "postgresql://u:p@h/db");
  EXPECT_EQ(c.sqs.endpoint, "http://127.0.0.1:4566");  // trailing slash dropped
  EXPECT_EQ(c.s3.endpoint, "http://127.0.0.1:9000");   // service-specific wins
  EXPECT_TRUE(c.s3.force_path_style);
  EXPECT_EQ(c.storage.max_file_size_bytes, 2ull << 30);
  ASSERT_TRUE(c.analysis.subject_height_m.has_value());
  EXPECT_DOUBLE_EQ(*c.analysis.subject_height_m, 1.75);
}

TEST(ConfigTest, MalformedValuesNameTheVariable) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"MAX_WORKERS", "two"},
      {"MAX_WORKERS", "0"},
      {"SQS_WAIT_TIME", "21"},
      {"SQS_VISIBILITY_TIMEOUT", "-1"},
      {"CLEANUP_AFTER_PROCESSING", "maybe"},
      {"DATABASE_URL", "mysql://x"},
      {"LOG_LEVEL", "LOUD"},
      {"AWS_ENDPOINT_URL", "localhost:4566"},
      {"MAX_FILE_SIZE", "big"},
      {"SUBJECT_HEIGHT_M", "-2"},
      {"LOG_FORMAT", "xml"}};
  for (const auto& [name, value] : bad) {
    try {
      load_config({{name, value}});
      ADD_FAILURE() << name << "=" << value << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.variable(), name);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos);
    }
  }
}

TEST(ConfigTest, NewSettingsHaveTheirDocumentedDefaults) {
  ServiceConfig c = load_config({});
  EXPECT_EQ(c.database_busy_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.download_dir_min_free_bytes, 64ull << 20);
  EXPECT_EQ(c.probe.max_streams, 32);
  EXPECT_EQ(c.probe.max_frame_pixels, 35389440u);
  EXPECT_EQ(c.probe.max_index_entries, 5'000'000u);
  EXPECT_EQ(c.probe.timeout_seconds, 30);
  EXPECT_EQ(c.probe.memory_limit_mb, 1024u);
  EXPECT_EQ(c.metadata_max_bytes, 262144u);
  EXPECT_FALSE(c.health_port_explicit);
  EXPECT_EQ(c.download_dir_max_bytes, 0u);
  EXPECT_TRUE(c.proxy.enabled);
  EXPECT_EQ(c.proxy.max_height, 720);
}

TEST(ConfigTest, ReadsTheNewSettings) {
  ServiceConfig c = load_config({{"DATABASE_BUSY_TIMEOUT", "0"},
                                 {"DOWNLOAD_DIR_MIN_FREE", "1G"},
                                 {"PROBE_MAX_STREAMS", "4"},
                                 {"PROBE_MAX_FRAME_PIXELS", "2073600"},
                                 {"PROBE_MAX_INDEX_ENTRIES", "100000"},
                                 {"PROBE_TIMEOUT", "5"},
                                 {"PROBE_MEMORY_LIMIT_MB", "256"},
                                 {"METADATA_MAX_BYTES", "64K"},
                                 {"HEALTH_PORT", "8080"},
                                 {"DOWNLOAD_DIR_MAX_BYTES", "0"}});
  EXPECT_EQ(c.database_busy_timeout, std::chrono::seconds(0));
  EXPECT_EQ(c.download_dir_min_free_bytes, 1ull << 30);
  EXPECT_EQ(c.probe.max_streams, 4);
  EXPECT_EQ(c.probe.max_frame_pixels, 2073600u);
  EXPECT_EQ(c.probe.max_index_entries, 100000u);
  EXPECT_EQ(c.probe.timeout_seconds, 5);
  EXPECT_EQ(c.probe.memory_limit_mb, 256u);
  EXPECT_EQ(c.metadata_max_bytes, 65536u);
  EXPECT_EQ(c.health_port, 8080);
  EXPECT_TRUE(c.health_port_explicit);  // even when equal to the default
  EXPECT_EQ(c.download_dir_max_bytes, 0u);
  EXPECT_EQ(load_config({{"DATABASE_BUSY_TIMEOUT", "3600"}}).database_busy_timeout,
            std::chrono::seconds(3600));
  EXPECT_EQ(load_config({{"DOWNLOAD_DIR_MIN_FREE", "0"}}).download_dir_min_free_bytes, 0u);
  const ServiceConfig proxy =
      load_config({{"PROXY_ENABLED", "false"}, {"PROXY_MAX_HEIGHT", "480"}});
  EXPECT_FALSE(proxy.proxy.enabled);
  EXPECT_EQ(proxy.proxy.max_height, 480);
}

TEST(ConfigTest, AnEmptyHealthPortIsTheImplicitDefault) {
  ServiceConfig c = load_config({{"HEALTH_PORT", ""}});
  EXPECT_EQ(c.health_port, 8080);
  EXPECT_FALSE(c.health_port_explicit);
  EXPECT_TRUE(load_config({{"HEALTH_PORT", "0"}}).health_port_explicit);
}

TEST(ConfigTest, AnExplicitlyEmptyPrefixMeansTheWholeBucket) {
  EXPECT_EQ(load_config({}).storage.prefix, "uploads/");
  EXPECT_EQ(load_config({{"S3_PREFIX", ""}}).storage.prefix, "");
  EXPECT_EQ(load_config({{"S3_PREFIX", "in/"}}).storage.prefix, "in/");
  // The same through a .env file.
  EXPECT_EQ(load_config(parse_dotenv("S3_PREFIX=\n")).storage.prefix, "");
  EXPECT_EQ(load_config(parse_dotenv("S3_PREFIX=''\n")).storage.prefix, "");
}

// ConfigError naming `name`, or a test failure.
void expect_rejected(const std::string& name, const std::string& value) {
  try {
    load_config({{name, value}});
    ADD_FAILURE() << name << "=" << value << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), name) << e.what();
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

// A height in centimetres (170) published 124.5 m/s, 1e-9 published 0.0 m/s: start-up refuses
// anything but a plain number of metres a person can measure.
TEST(ConfigTest, SubjectHeightMustBeAPlausibleHeightInMetres) {
  for (const std::string& value : std::vector<std::string>{
           "170", "1e-9", "1.7m", "0", "-1.7", "nan", "inf", "0.49", "2.51", "1,72", "+1.7",
           "1.7 1.8", "0x1p0", std::string(4000, '1') + "<script>", "1.7\n<script>"}) {
    expect_rejected("SUBJECT_HEIGHT_M", value);
  }
  try {
    load_config({{"SUBJECT_HEIGHT_M", "170"}});
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("between 0.5 and 2.5"), std::string::npos) << e.what();
  }
  // The message shows a short, escaped excerpt of what was given, never all of it.
  try {
    load_config({{"SUBJECT_HEIGHT_M", std::string(4000, '1') + "<script>"}});
  } catch (const ConfigError& e) {
    EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
    EXPECT_EQ(std::string(e.what()).find("<script>"), std::string::npos) << e.what();
  }
  for (const auto& [text, metres] : std::vector<std::pair<std::string, double>>{
           {"0.5", 0.5}, {"2.5", 2.5}, {" 1.72 ", 1.72}, {"1.8", 1.8}, {"2", 2.0}}) {
    const auto height = load_config({{"SUBJECT_HEIGHT_M", text}}).analysis.subject_height_m;
    ASSERT_TRUE(height.has_value()) << text;
    EXPECT_DOUBLE_EQ(*height, metres) << text;
  }
  EXPECT_FALSE(load_config({}).analysis.subject_height_m.has_value());
}

TEST(ConfigTest, ReportFileModeIsGroupReadableByDefaultAndNeverExecutableOrWorldWritable) {
  EXPECT_EQ(load_config({}).report_file_mode, 0640u);
  EXPECT_EQ(report_dir_mode(0640), 0750u);
  EXPECT_EQ(report_dir_mode(0600), 0700u);
  EXPECT_EQ(report_dir_mode(0644), 0755u);
  for (const auto& [text, mode] : std::vector<std::pair<std::string, unsigned>>{
           {"0600", 0600}, {"0640", 0640}, {"640", 0640}, {"0660", 0660}, {"0644", 0644}}) {
    EXPECT_EQ(load_config({{"REPORT_FILE_MODE", text}}).report_file_mode, mode) << text;
  }
  for (const char* bad : {"0646", "0666", "0602", "0740", "0750", "0641", "0700", "4640", "1640",
                          "0440", "0040", "rw-r-----", "0o640", "0888", "-640", "00640", "0x1a0"}) {
    expect_rejected("REPORT_FILE_MODE", bad);
  }
}

TEST(ConfigTest, SizesThatOverflowAreRejectedNotWrapped) {
  // 16777216T = 2^24 * 2^40 = 2^64: wrapped to 0 before.
  for (const char* name : {"MAX_FILE_SIZE", "S3_PART_SIZE", "DOWNLOAD_DIR_MAX_BYTES",
                           "DOWNLOAD_DIR_MIN_FREE", "METADATA_MAX_BYTES"}) {
    expect_rejected(name, "16777216T");
    expect_rejected(name, "18446744073709551616");  // 2^64
    expect_rejected(name, "99999999999999999999999K");
    expect_rejected(name, "-1");
    expect_rejected(name, "1.5G");
    expect_rejected(name, "G");
    expect_rejected(name, "12Q");
  }
  // The largest representable values still parse.
  EXPECT_EQ(load_config({{"MAX_FILE_SIZE", "16777215T"}}).storage.max_file_size_bytes,
            16777215ull << 40);
  EXPECT_EQ(load_config({{"MAX_FILE_SIZE", "18446744073709551615"}}).storage.max_file_size_bytes,
            18446744073709551615ull);
}

TEST(ConfigTest, ZeroIsRejectedWhereItMakesNoSense) {
  expect_rejected("MAX_FILE_SIZE", "0");
  expect_rejected("MAX_FILE_SIZE", "0G");
  expect_rejected("S3_PART_SIZE", "0");
  expect_rejected("METADATA_MAX_BYTES", "0");
  expect_rejected("METADATA_MAX_BYTES", "4095");
  expect_rejected("METADATA_MAX_BYTES", "65M");
  expect_rejected("PROBE_MAX_STREAMS", "0");
  expect_rejected("PROBE_MAX_FRAME_PIXELS", "0");
  expect_rejected("PROBE_MAX_INDEX_ENTRIES", "0");
  expect_rejected("PROBE_TIMEOUT", "0");
  expect_rejected("PROBE_MEMORY_LIMIT_MB", "0");
}

TEST(ConfigTest, IntegersOutOfRangeOrMalformedAreRejected) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"DATABASE_BUSY_TIMEOUT", "-1"},
      {"DATABASE_BUSY_TIMEOUT", "3601"},
      {"DATABASE_BUSY_TIMEOUT", "30s"},
      {"DATABASE_BUSY_TIMEOUT", "99999999999999999999"},
      {"PROBE_MAX_STREAMS", "1025"},
      {"PROBE_MAX_STREAMS", "many"},
      {"PROBE_MAX_FRAME_PIXELS", "268435457"},
      {"PROBE_MAX_FRAME_PIXELS", "8K"},
      {"PROBE_MAX_INDEX_ENTRIES", "1000000001"},
      {"PROBE_MAX_INDEX_ENTRIES", "1e6"},
      {"PROBE_TIMEOUT", "3601"},
      {"PROBE_TIMEOUT", "-5"},
      {"PROBE_MEMORY_LIMIT_MB", "63"},
      {"PROBE_MEMORY_LIMIT_MB", "1G"},
      {"HEALTH_PORT", "65536"},
      {"PROXY_MAX_HEIGHT", "100"},
      {"PROXY_MAX_HEIGHT", "4320"},
      {"PROXY_ENABLED", "maybe"},
      {"HEALTH_PORT", "99999999999999999999999"},
      {"MAX_WORKERS", "9223372036854775808"},  // 2^63: out of long long's range
      {"SUBJECT_HEIGHT_M", "inf"},
      {"SUBJECT_HEIGHT_M", "nan"},
  };
  for (const auto& [name, value] : bad) expect_rejected(name, value);
  try {
    load_config({{"PROBE_TIMEOUT", "99999999999999999999"}});
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("between 1 and 3600"), std::string::npos) << e.what();
  }
}

TEST(ConfigTest, DotenvParsing) {
  Environment env = parse_dotenv(
      "# comment\n\nexport S3_BUCKET=videos\nS3_PREFIX = 'in coming/'\nLOG_LEVEL=\"DEBUG\"\n"
      "MAX_WORKERS=4 # four\n");
  EXPECT_EQ(env.at("S3_BUCKET"), "videos");
  EXPECT_EQ(env.at("S3_PREFIX"), "in coming/");
  EXPECT_EQ(env.at("LOG_LEVEL"), "DEBUG");
  EXPECT_EQ(env.at("MAX_WORKERS"), "4");
  EXPECT_THROW(parse_dotenv("JUSTAWORD\n"), ConfigError);
}

TEST(ConfigTest, EnvironmentWinsOverDotenv) {
  testing::TempDir dir;
  std::ofstream(dir / ".env") << "S3_BUCKET=from-dotenv\nDANCER_CONFIG_TEST_ONLY=dotenv\n";
  setenv("DANCER_CONFIG_TEST_ONLY", "process", 1);
  Environment env = load_environment(dir / ".env");
  unsetenv("DANCER_CONFIG_TEST_ONLY");
  EXPECT_EQ(env.at("S3_BUCKET"), "from-dotenv");
  EXPECT_EQ(env.at("DANCER_CONFIG_TEST_ONLY"), "process");
}

TEST(ConfigTest, CredentialVariablesAreKeptForTheChainOnly) {
  ServiceConfig c = load_config({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                 {"AWS_SECRET_ACCESS_KEY", "secret"},
                                 {"S3_BUCKET", "b"}});
  EXPECT_EQ(c.aws_environment.at("AWS_ACCESS_KEY_ID"), "AKIDEXAMPLE");
  EXPECT_EQ(c.aws_environment.count("S3_BUCKET"), 0u);
}

}  // namespace
}  // namespace dancer::service
