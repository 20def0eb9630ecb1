#include "common/subject_height.h"

#include <gtest/gtest.h>

#include <clocale>
#include <string>
#include <vector>

namespace dancer::common {
namespace {

TEST(SubjectHeight, AcceptsPlainMetresWithinTheHumanRange) {
  EXPECT_EQ(parse_subject_height_m("1.72"), 1.72);
  EXPECT_EQ(parse_subject_height_m(" 1.8\t"), 1.8);
  EXPECT_EQ(parse_subject_height_m("0.5"), 0.5);
  EXPECT_EQ(parse_subject_height_m("2.5"), 2.5);
  EXPECT_EQ(parse_subject_height_m("2"), 2.0);
  EXPECT_EQ(parse_subject_height_m(".9"), 0.9);
}

TEST(SubjectHeight, RefusesPartialNumbersUnitsAndAbsurdValues) {
  for (const std::string& text : std::vector<std::string>{"",
                                                          " ",
                                                          "170",
                                                          "1e-9",
                                                          "1.7e0",
                                                          "1.7m",
                                                          "1.7 m",
                                                          "0",
                                                          "-1.7",
                                                          "+1.7",
                                                          "nan",
                                                          "NaN",
                                                          "inf",
                                                          "-inf",
                                                          "0.49",
                                                          "2.51",
                                                          "5.9",
                                                          "1,72",
                                                          "1.7.2",
                                                          ".",
                                                          "0x1p0",
                                                          "1.7\n<script>",
                                                          std::string("1.7\0", 4),
                                                          std::string(4000, '1') + "<script>",
                                                          "1." + std::string(40, '0')}) {
    EXPECT_FALSE(parse_subject_height_m(text).has_value()) << text;
  }
}

TEST(SubjectHeight, IgnoresTheLocale) {
  // A locale whose decimal point is a comma must not change what "1.72" means.
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") != nullptr) {
    EXPECT_EQ(parse_subject_height_m("1.72"), 1.72);
    EXPECT_FALSE(parse_subject_height_m("1,72").has_value());
    std::setlocale(LC_NUMERIC, "C");
  }
}

TEST(SubjectHeight, ExcerptIsShortAndEscaped) {
  EXPECT_EQ(subject_height_excerpt("1.7m"), "1.7m");
  EXPECT_EQ(subject_height_excerpt("a\"b\\c\n\xff"), "a\\x22b\\x5cc\\x0a\\xff");
  const std::string hostile = std::string(4000, '1') + "<script>";
  EXPECT_EQ(subject_height_excerpt(hostile), std::string(16, '1') + "...");
}

}  // namespace
}  // namespace dancer::common
