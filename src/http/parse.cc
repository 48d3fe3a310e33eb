// Boost.Beast's HTTP parser only (no Asio I/O): a few seconds to compile, unlike server.cc.
#include "http/parse.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#pragma GCC diagnostic pop

#include "fmt/format.h"
#include "http/errors.h"

namespace concord::http {

namespace bhttp = boost::beast::http;

struct RequestReader::Impl {
  bhttp::request_parser<bhttp::string_body> parser;
};

RequestReader::RequestReader(const ReaderLimits& limits) : impl_(std::make_unique<Impl>()), limits_(limits) {
  impl_->parser.header_limit(static_cast<uint32_t>(std::min<size_t>(limits.max_header_bytes, UINT32_MAX)));
  impl_->parser.body_limit(static_cast<uint64_t>(limits.max_body_bytes));
}

RequestReader::~RequestReader() = default;
RequestReader::RequestReader(RequestReader&&) noexcept = default;
RequestReader& RequestReader::operator=(RequestReader&&) noexcept = default;

size_t RequestReader::Put(std::string_view bytes) {
  if (state_ == State::kHeaderDone) state_ = State::kBody;
  if (state_ == State::kComplete || state_ == State::kFailed || bytes.empty()) return 0;
  auto& parser = impl_->parser;
  // Not eager while reading the header: Beast then stops at its end, as the server needs for 100-continue.
  parser.eager(state_ == State::kBody);
  boost::beast::error_code ec;
  size_t used = 0;
  try {
    used = parser.put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
  } catch (const std::exception& e) {
    // Beast throws (instead of returning an error) when a field it stores is over 64 KiB, which the header
    // limit prevents in the header but not in a chunked body's trailer section.
    Fail(absl::InvalidArgumentError(fmt::format("malformed HTTP request: {}", e.what())));
    return bytes.size();
  }
  if (ec == bhttp::error::need_more) return used;
  if (ec == bhttp::error::header_limit) {
    Fail(WithHttpStatus(absl::ResourceExhaustedError(fmt::format("request header exceeds the limit of {} bytes",
                                                                 limits_.max_header_bytes)),
                        431));
    return used;
  }
  if (ec == bhttp::error::body_limit) {
    // Beast refuses a too-large Content-Length while it reads the header fields; the request line, and so
    // the target that picks the error's shape (TAXII routes answer a TAXII error message), came before.
    if (target_.empty()) target_ = std::string(parser.get().target());
    Fail(BodyTooLargeError(fmt::format("request body exceeds the limit of {} bytes", limits_.max_body_bytes)));
    return used;
  }
  if (ec) {
    Fail(absl::InvalidArgumentError(fmt::format("malformed HTTP request: {}", ec.message())));
    return used;
  }
  if (state_ == State::kHeader) {
    if (parser.is_header_done()) AcceptHeader();
    return used;
  }
  if (parser.chunked()) {
    // Beast bounds the header but not a chunked body's trailer section, whose fields it keeps in the
    // message: without a bound here a client could send trailer fields for ever.
    size_t field_bytes = 0;
    for (const auto& field : parser.get()) field_bytes += field.name_string().size() + field.value().size() + 4;
    if (field_bytes > header_bytes_ + limits_.max_header_bytes) {
      Fail(WithHttpStatus(absl::ResourceExhaustedError(fmt::format("request trailer exceeds the limit of {} bytes",
                                                                   limits_.max_header_bytes)),
                          431));
      return used;
    }
  }
  if (parser.is_done()) state_ = State::kComplete;
  return used;
}

void RequestReader::AcceptHeader() {
  auto& parser = impl_->parser;
  const auto& msg = parser.get();
  method_ = std::string(msg.method_string());
  target_ = std::string(msg.target());
  for (const auto& field : msg) {
    header_fields_.Add(std::string(field.name_string()), std::string(field.value()));
    header_bytes_ += field.name_string().size() + field.value().size() + 4;
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one, is invalid (two could name
  // different hosts to two parsers on the way). §6.3: a request whose transfer coding does not end in
  // chunked has no knowable length; reading on would let its body pass for a request.
  const size_t hosts = msg.count(bhttp::field::host);
  if (msg.version() >= 11 && hosts == 0) {
    Fail(absl::InvalidArgumentError("HTTP/1.1 request without Host header"));
    return;
  }
  if (hosts > 1) {
    Fail(absl::InvalidArgumentError("request with more than one Host header"));
    return;
  }
  if (msg.find(bhttp::field::transfer_encoding) != msg.end() && !parser.chunked()) {
    Fail(absl::InvalidArgumentError("request transfer coding must end in chunked"));
    return;
  }
  if (auto len = parser.content_length(); len && *len > limits_.max_body_bytes) {
    Fail(BodyTooLargeError(
        fmt::format("request body of {} bytes exceeds the limit of {} bytes", *len, limits_.max_body_bytes)));
    return;
  }
  if (parser.is_done()) {
    state_ = State::kComplete;
    return;
  }
  auto expect = msg.find(bhttp::field::expect);
  expects_continue_ = expect != msg.end() && EqualsIgnoreCase(std::string_view(expect->value()), "100-continue");
  state_ = State::kHeaderDone;
}

void RequestReader::Fail(absl::Status status) {
  state_ = State::kFailed;
  error_ = std::move(status);
}

ParsedRequest RequestReader::Take() {
  ParsedRequest out;
  if (state_ != State::kComplete) return out;
  auto msg = impl_->parser.release();
  state_ = State::kFailed;  // spent
  error_ = absl::FailedPreconditionError("request already taken");
  out.keep_alive = msg.keep_alive();
  out.http10 = msg.version() == 10;
  Request& req = out.request;
  req.method = std::move(method_);
  req.target = std::move(target_);
  req.headers = std::move(header_fields_);  // trailer fields, if any, are dropped
  req.body = std::move(msg.body());
  const std::string_view target = req.target;
  const size_t q = target.find('?');
  const std::string_view raw_path = target.substr(0, q);
  if (q != target.npos) req.query = QueryParams::Parse(target.substr(q + 1));
  auto decoded = PercentDecode(raw_path, false);
  req.path = decoded ? *std::move(decoded) : std::string(raw_path);
  return out;
}

}  // namespace concord::http
