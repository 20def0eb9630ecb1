// AWS Signature Version 4, as pure functions: every input (clock, credentials, request)
// is an argument, every stage is callable on its own and tested byte for byte against
// the AWS SigV4 test suite. The signer only produces headers; the transport sends them.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"

namespace dancer::aws::sigv4 {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;           // "GET", "POST", ...
  std::string path;             // path as sent on the wire, percent-encoded ("/my%20key")
  std::string query;            // raw query string without '?', may be empty
  std::vector<Header> headers;  // must include "host"
  std::string payload_hash;     // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigningParams {
  Credentials credentials;
  std::string region;   // "us-east-1"
  std::string service;  // "sqs", "s3", "sts"
  std::chrono::system_clock::time_point time;
  bool double_uri_encode = true;           // false for S3
  bool normalize_path = true;              // false for S3
  bool add_content_sha256_header = false;  // S3 requires x-amz-content-sha256
  bool omit_session_token = false;         // add X-Amz-Security-Token after signing
};

// Headers the transport must add to the request: X-Amz-Date, optionally
// X-Amz-Security-Token and x-amz-content-sha256, and Authorization.
std::vector<Header> sign_request(const Request& request, const SigningParams& params);

// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

// ---- Stages (each one is a step of the algorithm in the AWS SigV4 documentation) ----

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// "20150830T123600Z" (ISO 8601 basic, UTC) and "20150830".
std::string amz_date(std::chrono::system_clock::time_point time);
std::string date_stamp(std::chrono::system_clock::time_point time);

// Removes "." and ".." segments and empty segments ("//"), keeping a trailing '/'.
std::string normalize_path(std::string_view path);

// The CanonicalURI line: optionally normalised, then percent-encoded once more when
// double_uri_encode (every service but S3), or taken as-is (S3: the wire path is
// already encoded exactly once). An empty path is "/".
std::string canonical_uri(std::string_view path, bool double_uri_encode, bool normalize);

// The CanonicalQueryString line: each name and value decoded and re-encoded with the
// SigV4 rules, sorted by name then value, "name=value" joined with '&'.
std::string canonical_query_string(std::string_view query);

struct CanonicalHeaders {
  std::string canonical;       // "name:value\n" per header, sorted by lower-case name
  std::string signed_headers;  // "host;x-amz-date"
};
// Lower-cases names, trims values and collapses inner whitespace runs (including folded
// line breaks) to one space, joins repeated names with ',' in order of appearance.
// Headers AWS never signs (authorization, user-agent, expect, x-amzn-trace-id) are skipped.
CanonicalHeaders canonical_headers(const std::vector<Header>& headers);

std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query, const CanonicalHeaders& headers,
                              std::string_view payload_hash);

// "20150830/us-east-1/service/aws4_request"
std::string credential_scope(std::string_view date_stamp, std::string_view region,
                             std::string_view service);

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
// as raw 32 bytes.
std::string derive_signing_key(std::string_view secret_access_key, std::string_view date_stamp,
                               std::string_view region, std::string_view service);

// Lowercase hex HMAC-SHA256(signing_key, string_to_sign).
std::string signature_hex(std::string_view signing_key, std::string_view string_to_sign);

// "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=..., Signature=..."
std::string authorization_header(std::string_view access_key_id, std::string_view scope,
                                 std::string_view signed_headers, std::string_view signature);

// Every intermediate of header signing, for tests and debugging (never log it: the
// headers include the session token).
struct HeaderSigningTrace {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::vector<Header> headers;  // what sign_request returns
};
HeaderSigningTrace sign_request_traced(const Request& request, const SigningParams& params);

// Query signing (presigned URL). `query` is the request's query followed by the
// X-Amz-* parameters in the order AWS SDKs emit them, ending with X-Amz-Signature;
// append it to the path after '?'. add_content_sha256_header is ignored.
struct PresignResult {
  std::string query;
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
};
PresignResult presign(const Request& request, const SigningParams& params,
                      std::chrono::seconds expires);

}  // namespace dancer::aws::sigv4
