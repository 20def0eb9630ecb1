#include "aws/aws_xml.h"

#include <gtest/gtest.h>

namespace dancer::aws::xml {
namespace {

TEST(AwsXml, ParsesS3ErrorDocument) {
  const ErrorDocument error = parse_error_document(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The specified key does not exist.</Message><Key>a &amp; b.mp4</Key>"
      "<RequestId>4442587FB7D0A2F9</RequestId><HostId>x</HostId></Error>");
  EXPECT_EQ(error.code, "NoSuchKey");
  EXPECT_EQ(error.message, "The specified key does not exist.");
  EXPECT_EQ(error.request_id, "4442587FB7D0A2F9");
}

TEST(AwsXml, MissingFieldsAreEmptyAndGarbageIsTolerated) {
  const ErrorDocument error = parse_error_document("not xml at all <Code>unterminated");
  EXPECT_EQ(error.code, "");
  EXPECT_EQ(error.message, "");
  EXPECT_EQ(parse_error_document("").request_id, "");
}

TEST(AwsXml, DecodesEntitiesAndCharacterReferences) {
  EXPECT_EQ(element_text("<ETag>&quot;abc&quot;</ETag>", "ETag"), "\"abc\"");
  EXPECT_EQ(element_text("<K>&lt;&gt;&amp;&apos;&#233;&#x41;</K>", "K"),
            "<>&'\xC3\xA9"
            "A");
  EXPECT_EQ(element_text("<K>&unknown; &amp</K>", "K"), "&unknown; &amp");
}

TEST(AwsXml, MatchesWholeElementNames) {
  EXPECT_EQ(element_text("<CodeX>no</CodeX><Code>yes</Code>", "Code"), "yes");
  EXPECT_EQ(element_text("<Code/>", "Code"), "");
  EXPECT_EQ(element_text("<Code xmlns=\"x\">v</Code>", "Code"), "v");
  EXPECT_FALSE(element_text("<Other>v</Other>", "Code").has_value());
}

TEST(AwsXml, EscapeRoundTrips) {
  const std::string text = "a<b>&\"c'";
  EXPECT_EQ(escape(text), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(element_text("<V>" + escape(text) + "</V>", "V"), text);
}

}  // namespace
}  // namespace dancer::aws::xml
