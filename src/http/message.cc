#include "http/message.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

namespace concord::http {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

void Headers::Add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) out.emplace_back(v);
  }
  return out;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Lenient form decoding for query strings: a bad escape stays as written.
std::string DecodeLenient(std::string_view in) {
  if (auto d = PercentDecode(in, true)) return *std::move(d);
  std::string out(in);
  std::replace(out.begin(), out.end(), '+', ' ');
  return out;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryParams QueryParams::Parse(std::string_view query) {
  QueryParams q;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    q.items_.push_back({DecodeLenient(key), DecodeLenient(value), std::string(value)});
  }
  return q;
}

std::optional<std::string_view> QueryParams::Get(std::string_view key) const {
  for (const auto& item : items_) {
    if (item.key == key) return std::string_view(item.value);
  }
  return std::nullopt;
}

std::vector<std::string> QueryParams::GetAll(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& item : items_) {
    if (item.key == key) out.push_back(item.value);
  }
  return out;
}

std::vector<std::string> QueryParams::GetList(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& item : items_) {
    if (item.key != key) continue;
    std::string_view raw = item.raw_value;
    while (true) {
      const size_t comma = raw.find(',');
      out.push_back(DecodeLenient(raw.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      raw.remove_prefix(comma + 1);
    }
  }
  return out;
}

std::string_view Request::Param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response Response::Stream(int status, std::string content_type, ChunkProducer producer) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::move(content_type));
  r.stream = std::move(producer);
  return r;
}

absl::StatusOr<Response> AwaitGate(Response response) {
  if (!response.gate) return response;
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::Status> released;
  };
  auto wait = std::make_shared<Wait>();
  Gate gate = std::move(response.gate);
  response.gate = nullptr;
  gate([wait](absl::Status status) {
    std::lock_guard lock(wait->mu);
    wait->released = std::move(status);
    wait->cv.notify_one();
  });
  std::unique_lock lock(wait->mu);
  wait->cv.wait(lock, [&] { return wait->released.has_value(); });
  if (!wait->released->ok()) return *wait->released;
  return response;
}

}  // namespace concord::http
