// Just enough XML for S3's REST answers: S3 error bodies (<Error><Code>..</Code>
// <Message>..</Message><RequestId>..</RequestId></Error>) and single-value elements.
// Not a general XML parser: no attributes, namespaces or nesting of the same name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dancer::aws::xml {

// Text of the first <name>...</name> (or <name/> as empty), with the five predefined
// entities and numeric character references decoded. nullopt when the element is absent.
std::optional<std::string> element_text(std::string_view xml, std::string_view name);

// The fields of an S3 <Error> document; empty strings for missing fields.
struct ErrorDocument {
  std::string code;
  std::string message;
  std::string request_id;
};
ErrorDocument parse_error_document(std::string_view xml);

// Escapes &, <, >, " and ' for element text.
std::string escape(std::string_view text);

}  // namespace dancer::aws::xml
