#include "service/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dancer::service {
namespace {

// A parsed exposition: family name -> TYPE, and sample key ("name" or
// "name{labels}") -> value. Parsing fails the test on any line that breaks the
// text format 0.0.4 grammar.
struct Exposition {
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> helps;
  std::map<std::string, double> samples;
  std::vector<std::string> sample_order;
};

// The family a sample belongs to: histogram samples carry a suffix.
std::string family_of(const std::string& sample_name, const Exposition& e) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample_name.size() > s.size() &&
        sample_name.compare(sample_name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = sample_name.substr(0, sample_name.size() - s.size());
      auto it = e.types.find(base);
      if (it != e.types.end() && it->second == "histogram") return base;
    }
  }
  return sample_name;
}

Exposition parse(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"\})? (\S+)$)re");
  Exposition e;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the format requires a final line feed";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      EXPECT_TRUE(e.helps.emplace(m[1], m[2]).second) << "second HELP for " << m[1];
    } else if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(e.types.emplace(m[1], m[2]).second) << "second TYPE for " << m[1];
      EXPECT_TRUE(e.helps.count(m[1])) << "HELP should precede TYPE for " << m[1];
    } else if (std::regex_match(line, m, kSample)) {
      const std::string name = m[1];
      EXPECT_TRUE(e.types.count(family_of(name, e))) << "sample before its TYPE: " << line;
      const std::string key = name + (m[2].matched ? std::string(m[2]) : "");
      const std::string value_text = m[5];
      double value = 0;
      if (value_text == "+Inf") {
        value = INFINITY;
      } else {
        char* end = nullptr;
        value = std::strtod(value_text.c_str(), &end);
        EXPECT_EQ(*end, '\0') << "bad value in: " << line;
      }
      EXPECT_TRUE(e.samples.emplace(key, value).second) << "duplicate sample " << key;
      e.sample_order.push_back(key);
    } else {
      ADD_FAILURE() << "line does not follow the exposition format: '" << line << "'";
    }
  }
  return e;
}

const std::vector<std::string> kBucketLabels = {"1",   "5",   "15",   "30",   "60",  "120",
                                                "300", "600", "1800", "3600", "+Inf"};

std::string bucket(const std::string& le) {
  return "dancer_job_duration_seconds_bucket{le=\"" + le + "\"}";
}

TEST(MetricsTest, FreshMetricsRenderEveryFamilyAtZero) {
  Metrics metrics;
  const Exposition e = parse(metrics.render_prometheus());
  const std::map<std::string, std::string> expected_types = {
      {"dancer_up", "gauge"},
      {"dancer_messages_received_total", "counter"},
      {"dancer_messages_processed_total", "counter"},
      {"dancer_messages_failed_total", "counter"},
      {"dancer_messages_retried_total", "counter"},
      {"dancer_messages_malformed_total", "counter"},
      {"dancer_messages_duplicate_total", "counter"},
      {"dancer_bytes_downloaded_total", "counter"},
      {"dancer_files_downloaded_total", "counter"},
      {"dancer_jobs_in_flight", "gauge"},
      {"dancer_job_duration_seconds", "histogram"},
      {"dancer_queue_messages_visible", "gauge"},
      {"dancer_queue_messages_in_flight", "gauge"},
      {"dancer_download_dir_bytes", "gauge"},
  };
  EXPECT_EQ(e.types, expected_types);
  EXPECT_EQ(e.samples.at("dancer_up"), 1);
  for (const auto& [key, value] : e.samples) {
    if (key != "dancer_up") {
      EXPECT_EQ(value, 0) << key;
    }
  }
  for (const auto& le : kBucketLabels) EXPECT_TRUE(e.samples.count(bucket(le))) << le;
  EXPECT_EQ(e.samples.size(), expected_types.size() - 1 + kBucketLabels.size() + 2);
}

TEST(MetricsTest, SequenceOfCallsIsReflectedInTheExposition) {
  Metrics metrics;
  metrics.message_received(10);
  metrics.message_received();
  metrics.message_received(0);   // ignored
  metrics.message_received(-3);  // ignored
  for (int i = 0; i < 4; ++i) metrics.message_processed();
  metrics.message_failed();
  metrics.message_retried();
  metrics.message_retried();
  metrics.message_malformed();
  metrics.message_duplicate();
  metrics.bytes_downloaded(1000);
  metrics.bytes_downloaded(24);
  metrics.file_downloaded();
  metrics.file_downloaded();
  for (int i = 0; i < 5; ++i) metrics.job_started();
  metrics.job_finished(0.5);   // le=1
  metrics.job_finished(1.0);   // le=1 (bounds are inclusive)
  metrics.job_finished(29.5);  // le=30
  metrics.job_finished(7200);  // only +Inf
  metrics.set_queue_depth(42, 7);
  metrics.set_download_dir_bytes(123456789);

  const Exposition e = parse(metrics.render_prometheus());
  EXPECT_EQ(e.samples.at("dancer_messages_received_total"), 11);
  EXPECT_EQ(e.samples.at("dancer_messages_processed_total"), 4);
  EXPECT_EQ(e.samples.at("dancer_messages_failed_total"), 1);
  EXPECT_EQ(e.samples.at("dancer_messages_retried_total"), 2);
  EXPECT_EQ(e.samples.at("dancer_messages_malformed_total"), 1);
  EXPECT_EQ(e.samples.at("dancer_messages_duplicate_total"), 1);
  EXPECT_EQ(e.samples.at("dancer_bytes_downloaded_total"), 1024);
  EXPECT_EQ(e.samples.at("dancer_files_downloaded_total"), 2);
  EXPECT_EQ(e.samples.at("dancer_jobs_in_flight"), 1);
  EXPECT_EQ(e.samples.at("dancer_queue_messages_visible"), 42);
  EXPECT_EQ(e.samples.at("dancer_queue_messages_in_flight"), 7);
  EXPECT_EQ(e.samples.at("dancer_download_dir_bytes"), 123456789);

  const std::map<std::string, double> expected_cumulative = {
      {"1", 2},   {"5", 2},   {"15", 2},   {"30", 3},   {"60", 3},  {"120", 3},
      {"300", 3}, {"600", 3}, {"1800", 3}, {"3600", 3}, {"+Inf", 4}};
  for (const auto& [le, count] : expected_cumulative) {
    EXPECT_EQ(e.samples.at(bucket(le)), count) << "le=" << le;
  }
  EXPECT_EQ(e.samples.at("dancer_job_duration_seconds_count"), 4);
  EXPECT_DOUBLE_EQ(e.samples.at("dancer_job_duration_seconds_sum"), 0.5 + 1.0 + 29.5 + 7200);

  // Buckets appear in increasing order of their bound, +Inf last.
  std::vector<std::string> bucket_order;
  for (const auto& key : e.sample_order) {
    if (key.rfind("dancer_job_duration_seconds_bucket", 0) == 0) bucket_order.push_back(key);
  }
  std::vector<std::string> expected_order;
  for (const auto& le : kBucketLabels) expected_order.push_back(bucket(le));
  EXPECT_EQ(bucket_order, expected_order);

  const Metrics::Snapshot s = metrics.snapshot();
  EXPECT_EQ(s.messages_received, 11u);
  EXPECT_EQ(s.jobs_in_flight, 1);
  EXPECT_EQ(s.job_duration_count, 4u);
  EXPECT_EQ(s.job_duration_buckets.back(), 4u);
}

TEST(MetricsTest, NegativeAndNanDurationsCountAsZero) {
  Metrics metrics;
  metrics.job_started();
  metrics.job_started();
  metrics.job_finished(-5);
  metrics.job_finished(std::nan(""));
  const Exposition e = parse(metrics.render_prometheus());
  EXPECT_EQ(e.samples.at(bucket("1")), 2);
  EXPECT_EQ(e.samples.at("dancer_job_duration_seconds_sum"), 0);
  EXPECT_EQ(e.samples.at("dancer_jobs_in_flight"), 0);
}

TEST(MetricsTest, GaugesCanBeSetDownAgain) {
  Metrics metrics;
  metrics.set_queue_depth(100, 50);
  metrics.set_download_dir_bytes(1 << 20);
  metrics.set_queue_depth(3, 0);
  metrics.set_download_dir_bytes(0);
  const Metrics::Snapshot s = metrics.snapshot();
  EXPECT_EQ(s.queue_visible, 3);
  EXPECT_EQ(s.queue_in_flight, 0);
  EXPECT_EQ(s.download_dir_bytes, 0u);
}

TEST(MetricsTest, ConcurrentUpdatesFromSeveralThreadsAreAllCounted) {
  Metrics metrics;
  constexpr int kThreads = 8;
  constexpr int kIterations = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kIterations; ++i) {
        metrics.message_received(2);
        metrics.message_processed();
        metrics.bytes_downloaded(3);
        metrics.job_started();
        // Alternate between the le=5 and le=600 buckets; thread 0 also hits +Inf.
        metrics.job_finished(i % 2 == 0 ? 2.0 : (t == 0 ? 5000.0 : 400.0));
        // Rendering while others write must still yield a well-formed exposition.
        if (i % 1000 == 0) {
          const Exposition e = parse(metrics.render_prometheus());
          EXPECT_EQ(e.samples.at(bucket("+Inf")),
                    e.samples.at("dancer_job_duration_seconds_count"));
          EXPECT_GE(e.samples.at("dancer_jobs_in_flight"), 0);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  const Exposition e = parse(metrics.render_prometheus());
  const double total = kThreads * kIterations;
  EXPECT_EQ(e.samples.at("dancer_messages_received_total"), 2 * total);
  EXPECT_EQ(e.samples.at("dancer_messages_processed_total"), total);
  EXPECT_EQ(e.samples.at("dancer_bytes_downloaded_total"), 3 * total);
  EXPECT_EQ(e.samples.at("dancer_jobs_in_flight"), 0);
  EXPECT_EQ(e.samples.at("dancer_job_duration_seconds_count"), total);
  const double fast = total / 2;
  const double above_600 = kIterations / 2;  // thread 0's odd iterations
  EXPECT_EQ(e.samples.at(bucket("1")), 0);
  EXPECT_EQ(e.samples.at(bucket("5")), fast);
  EXPECT_EQ(e.samples.at(bucket("300")), fast);
  EXPECT_EQ(e.samples.at(bucket("600")), total - above_600);
  EXPECT_EQ(e.samples.at(bucket("3600")), total - above_600);
  EXPECT_EQ(e.samples.at(bucket("+Inf")), total);
  const double expected_sum = fast * 2.0 + (fast - above_600) * 400.0 + above_600 * 5000.0;
  EXPECT_DOUBLE_EQ(e.samples.at("dancer_job_duration_seconds_sum"), expected_sum);
  // Cumulative buckets never decrease.
  double previous = 0;
  for (const auto& le : kBucketLabels) {
    EXPECT_GE(e.samples.at(bucket(le)), previous) << le;
    previous = e.samples.at(bucket(le));
  }
}

}  // namespace
}  // namespace dancer::service
