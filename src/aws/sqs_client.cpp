#include "aws/sqs_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "aws/error.h"
#include "aws/http_client.h"
#include "aws/service_call.h"
#include "aws/sigv4.h"
#include "common/strings.h"

namespace dancer::aws {
namespace {

using nlohmann::json;

// The JSON protocol names the error in "__type" ("com.amazonaws.sqs#QueueDoesNotExist");
// SQS also sends the legacy query-protocol code in x-amzn-query-error
// ("AWS.SimpleQueueService.NonExistentQueue;Sender"). Either maps through classify_aws_error.
AwsError sqs_error(std::string_view action, const HttpResponse& response) {
  std::string code;
  std::string message;
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (auto type = body.find("__type"); type != body.end() && type->is_string()) {
      code = type->get<std::string>();
    }
    for (const char* key : {"message", "Message"}) {
      if (auto text = body.find(key); text != body.end() && text->is_string()) {
        message = text->get<std::string>();
        break;
      }
    }
  }
  const std::string query_error = response.header("x-amzn-query-error");
  if (code.empty() && !query_error.empty()) code = query_error.substr(0, query_error.find(';'));
  ErrorCode error_code = classify_aws_error(response.status, code, message);
  // The JSON "__type" may be generic where the query code is specific; prefer the latter.
  if (!query_error.empty()) {
    const ErrorCode from_query = classify_aws_error(response.status, query_error, message);
    if (from_query != ErrorCode::kInvalidRequest && from_query != ErrorCode::kUnknown) {
      error_code = from_query;
    }
  }
  std::string text =
      "SQS " + std::string(action) + " failed: HTTP " + std::to_string(response.status);
  if (!code.empty()) text += " " + code;
  if (!message.empty()) text += ": " + message;
  return AwsError(error_code, std::move(text), response.status, code,
                  response.header("x-amzn-requestid"));
}

std::string string_field(const json& object, const char* name) {
  if (!object.is_object()) return {};
  const auto field = object.find(name);
  if (field == object.end() || !field->is_string()) return {};
  return field->get<std::string>();
}

std::string md5_hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_md5(), nullptr) != 1) {
    throw AwsError(ErrorCode::kUnknown, "MD5 digest failed");
  }
  return common::hex_encode(digest.data(), length);
}

int parse_count(const std::string& text) {
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    return used == text.size() ? value : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

struct SqsClient::Impl {
  SqsConfig config;
  std::shared_ptr<CredentialsProvider> credentials;
  detail::Endpoint endpoint;
  HttpClient http;
  // Set from another thread (SIGTERM handling) while a call may be running.
  std::atomic<const std::atomic<bool>*> cancel{nullptr};

  Impl(SqsConfig sqs_config, std::shared_ptr<CredentialsProvider> provider)
      : config(std::move(sqs_config)),
        credentials(std::move(provider)),
        endpoint(detail::parse_endpoint(config.endpoint.empty()
                                            ? "https://sqs." + config.region + ".amazonaws.com"
                                            : config.endpoint)),
        http(HttpClientOptions{config.connect_timeout}) {}

  // One signed POST of the JSON protocol; transient failures retried with backoff.
  json call(std::string_view action, const json& input, std::chrono::milliseconds timeout) {
    const std::string body = input.dump();
    const std::string path = endpoint.base_path.empty() ? "/" : endpoint.base_path + "/";
    return detail::with_retries(config.retry, cancel.load(), "SQS " + std::string(action), [&] {
      HttpRequest request;
      request.method = "POST";
      request.url = endpoint.origin() + path;
      request.timeout = timeout;
      request.body = body;
      request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                         {"X-Amz-Target", "AmazonSQS." + std::string(action)}};
      // Credentials are fetched per attempt: a refreshed session token is picked up.
      detail::sign(request, endpoint.authority, path, "", sigv4::sha256_hex(body),
                   credentials->get(), {config.region, "sqs", false});
      const HttpResponse response = http.send(request);
      if (response.status < 200 || response.status > 299) throw sqs_error(action, response);
      if (response.body.empty()) return json::object();
      json output = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
      if (output.is_discarded()) {
        throw AwsError(ErrorCode::kServiceUnavailable,
                       "SQS " + std::string(action) + ": response is not JSON", response.status);
      }
      return output;
    });
  }
};

SqsClient::SqsClient(SqsConfig config, std::shared_ptr<CredentialsProvider> credentials)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(credentials))) {}

SqsClient::~SqsClient() = default;

std::string SqsClient::get_queue_url(const std::string& queue_name) {
  const json output =
      impl_->call("GetQueueUrl", {{"QueueName", queue_name}}, impl_->config.request_timeout);
  return string_field(output, "QueueUrl");
}

std::string SqsClient::create_queue(const std::string& queue_name,
                                    const std::map<std::string, std::string>& attributes) {
  json input = {{"QueueName", queue_name}};
  if (!attributes.empty()) input["Attributes"] = attributes;
  return string_field(impl_->call("CreateQueue", input, impl_->config.request_timeout), "QueueUrl");
}

void SqsClient::delete_queue(const std::string& queue_url) {
  impl_->call("DeleteQueue", {{"QueueUrl", queue_url}}, impl_->config.request_timeout);
}

std::vector<SqsMessage> SqsClient::receive_messages(const std::string& queue_url, int max_messages,
                                                    int wait_time_seconds,
                                                    int visibility_timeout_seconds) {
  const json input = {
      {"QueueUrl", queue_url},
      {"MaxNumberOfMessages", std::clamp(max_messages, 1, 10)},
      {"WaitTimeSeconds", std::clamp(wait_time_seconds, 0, 20)},
      {"VisibilityTimeout", visibility_timeout_seconds},
      // MessageSystemAttributeNames replaced AttributeNames in 2023; older servers
      // (and emulators) only know the latter, and both are accepted by SQS.
      {"MessageSystemAttributeNames", json::array({"All"})},
      {"AttributeNames", json::array({"All"})},
  };
  // The server holds a long poll open for WaitTimeSeconds before answering empty.
  const auto timeout =
      impl_->config.request_timeout + std::chrono::seconds(std::clamp(wait_time_seconds, 0, 20));
  const json output = impl_->call("ReceiveMessage", input, timeout);
  std::vector<SqsMessage> messages;
  const auto list = output.find("Messages");
  if (list == output.end() || !list->is_array()) return messages;
  for (const json& item : *list) {
    SqsMessage message;
    message.message_id = string_field(item, "MessageId");
    message.receipt_handle = string_field(item, "ReceiptHandle");
    message.body = string_field(item, "Body");
    // SQS sends the MD5 of the body so that corruption in transit is detectable.
    if (const std::string md5 = string_field(item, "MD5OfBody");
        !md5.empty() && md5 != md5_hex(message.body)) {
      throw AwsError(ErrorCode::kIntegrity,
                     "SQS ReceiveMessage: MD5OfBody mismatch for message " + message.message_id);
    }
    if (auto attributes = item.find("Attributes");
        attributes != item.end() && attributes->is_object()) {
      for (const auto& [name, value] : attributes->items()) {
        if (value.is_string()) message.attributes[name] = value.get<std::string>();
      }
    }
    if (auto count = message.attributes.find("ApproximateReceiveCount");
        count != message.attributes.end()) {
      message.approximate_receive_count = parse_count(count->second);
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

void SqsClient::delete_message(const std::string& queue_url, const std::string& receipt_handle) {
  impl_->call("DeleteMessage", {{"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}},
              impl_->config.request_timeout);
}

void SqsClient::change_message_visibility(const std::string& queue_url,
                                          const std::string& receipt_handle,
                                          int visibility_timeout_seconds) {
  impl_->call("ChangeMessageVisibility",
              {{"QueueUrl", queue_url},
               {"ReceiptHandle", receipt_handle},
               {"VisibilityTimeout", visibility_timeout_seconds}},
              impl_->config.request_timeout);
}

std::map<std::string, std::string> SqsClient::get_queue_attributes(
    const std::string& queue_url, const std::vector<std::string>& names) {
  const json output =
      impl_->call("GetQueueAttributes",
                  {{"QueueUrl", queue_url},
                   {"AttributeNames", names.empty() ? json::array({"All"}) : json(names)}},
                  impl_->config.request_timeout);
  std::map<std::string, std::string> attributes;
  if (auto found = output.find("Attributes"); found != output.end() && found->is_object()) {
    for (const auto& [name, value] : found->items()) {
      if (value.is_string()) attributes[name] = value.get<std::string>();
    }
  }
  return attributes;
}

std::string SqsClient::send_message(const std::string& queue_url, const std::string& body,
                                    int delay_seconds) {
  json input = {{"QueueUrl", queue_url}, {"MessageBody", body}};
  if (delay_seconds > 0) input["DelaySeconds"] = delay_seconds;
  return string_field(impl_->call("SendMessage", input, impl_->config.request_timeout),
                      "MessageId");
}

void SqsClient::set_cancel_flag(const std::atomic<bool>* flag) {
  impl_->cancel.store(flag);
  impl_->http.set_cancel_flag(flag);
}

}  // namespace dancer::aws
