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
