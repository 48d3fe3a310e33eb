// Suricata EVE JSON: one event object per line. The top-level keys are visited once, in order, and the
// app-layer objects (dns, http, tls, fileinfo, smtp, email) are read wherever they appear — in their own
// event types and as metadata of alerts.
#include <charconv>
#include <cstring>

#include "detect/logs/json_line.h"
#include "detect/logs/line_reader.h"
#include "detect/logs/readers.h"
#include "fmt/format.h"

namespace concord::detect::logs::detail {
namespace {

using pattern::ValueKind;

class EveReader final : public LineReader {
 private:
  void ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) override;
  error_code Event(ondemand::object& event);
  error_code Dns(ondemand::value& v);
  error_code Http(ondemand::value& v);
  error_code Tls(ondemand::value& v);
  error_code Fileinfo(ondemand::value& v);
  error_code Mail(ondemand::value& v, bool smtp);
  error_code Answers(ondemand::value& v);
  error_code Queries(ondemand::value& v, std::string_view field);
  error_code Grouped(ondemand::value& v);

  static constexpr KindMask kIpKinds = KindBit(ValueKind::kIpv4) | KindBit(ValueKind::kIpv6);
  void AddIp(std::string_view s, std::string_view field) {
    if (!WantsAny(kIpKinds)) return;  // not worth classifying
    if (const auto kind = IpKind(s)) Add(*kind, s, field);
  }
  void AddHost(std::string_view s, int min_labels, std::string_view field) {
    if (!WantsAny(kIpKinds | KindBit(ValueKind::kDomain))) return;
    std::string_view value;
    if (const auto kind = ClassifyHost(s, min_labels, &value)) Add(*kind, value, field);
  }
  void AddMailbox(std::string_view s, std::string_view field) { Add(ValueKind::kEmail, ExtractMailbox(s), field); }

  JsonLine json_;
  std::optional<int64_t> time_ms_;
  bool http_event_ = false;
  int64_t dest_port_ = 0;
};

void EveReader::ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return;
  time_ms_.reset();
  http_event_ = false;
  dest_port_ = 0;
  ondemand::document doc;
  ondemand::object event;
  error_code e = json_.Parse(line, &doc);
  if (!e) e = doc.get_object().get(event);
  if (e == simdjson::INCORRECT_TYPE) {
    Malformed(number, "expected a JSON object");
    return;
  }
  if (!e) e = Event(event);
  if (e) {
    Malformed(number, fmt::format("invalid JSON: {}", simdjson::error_message(e)));
    return;
  }
  Emit(number, offset, time_ms_, sink);
}

error_code EveReader::Event(ondemand::object& event) {
  for (auto member : event) {
    ondemand::field field;
    std::string_view key;
    if (const error_code e = std::move(member).get(field)) return e;
    if (const error_code e = field.unescaped_key().get(key)) return e;
    ondemand::value& v = field.value();
    std::string_view s;
    if (key == "timestamp") {
      if (const error_code e = StringOf(v, &s)) return e;
      time_ms_ = ParseIsoTimeMs(s);
    } else if (key == "event_type") {
      if (const error_code e = StringOf(v, &s)) return e;
      http_event_ = s == "http";
    } else if (key == "src_ip" || key == "dest_ip") {
      if (const error_code e = StringOf(v, &s)) return e;
      AddIp(s, key == "src_ip" ? "src_ip" : "dest_ip");
    } else if (key == "dest_port") {
      int64_t port = 0;
      if (v.get_int64().get(port) == simdjson::SUCCESS) dest_port_ = port;
    } else if (key == "dns") {
      if (const error_code e = Dns(v)) return e;
    } else if (key == "http") {
      if (const error_code e = Http(v)) return e;
    } else if (key == "tls") {
      if (const error_code e = Tls(v)) return e;
    } else if (key == "fileinfo") {
      if (const error_code e = Fileinfo(v)) return e;
    } else if (key == "smtp" || key == "email") {
      if (const error_code e = Mail(v, key == "smtp")) return e;
    }
  }
  return simdjson::SUCCESS;
}

// Iterates the members of `v` when it is an object; other types are ignored.
template <typename Fn>
error_code Members(ondemand::value& v, Fn&& fn) {
  ondemand::json_type type;
  if (const error_code e = v.type().get(type)) return e;
  if (type != ondemand::json_type::object) return simdjson::SUCCESS;
  ondemand::object object;
  if (const error_code e = v.get_object().get(object)) return e;
  for (auto member : object) {
    ondemand::field field;
    std::string_view key;
    if (const error_code e = std::move(member).get(field)) return e;
    if (const error_code e = field.unescaped_key().get(key)) return e;
    if (const error_code e = fn(key, field.value())) return e;
  }
  return simdjson::SUCCESS;
}

// Iterates the elements of `v` when it is an array.
template <typename Fn>
error_code Elements(ondemand::value& v, Fn&& fn) {
  ondemand::json_type type;
  if (const error_code e = v.type().get(type)) return e;
  if (type != ondemand::json_type::array) return simdjson::SUCCESS;
  ondemand::array array;
  if (const error_code e = v.get_array().get(array)) return e;
  for (auto element : array) {
    ondemand::value item;
    if (const error_code e = std::move(element).get(item)) return e;
    if (const error_code e = fn(item)) return e;
  }
  return simdjson::SUCCESS;
}

// dns v1 (rrname/rdata per event, or "query": [..] in alerts), v2 (answers, grouped) and v3 (queries).
// When both detailed answers and grouped answers are logged, only the first of the two is read: they
// hold the same data.
error_code EveReader::Dns(ondemand::value& v) {
  bool answers_read = false;
  return Members(v, [&](std::string_view key, ondemand::value& m) -> error_code {
    std::string_view s;
    if (key == "rrname") {
      if (const error_code e = StringOf(m, &s)) return e;
      Add(ValueKind::kDomain, s, "dns.rrname");
    } else if (key == "rdata") {
      if (const error_code e = StringOf(m, &s)) return e;
      AddHost(s, 2, "dns.rdata");
    } else if (key == "query") {
      return Queries(m, "dns.query.rrname");
    } else if (key == "queries") {
      return Queries(m, "dns.queries.rrname");
    } else if (key == "answers" && !answers_read) {
      answers_read = true;
      return Answers(m);
    } else if (key == "grouped" && !answers_read) {
      answers_read = true;
      return Grouped(m);
    }
    return simdjson::SUCCESS;
  });
}

error_code EveReader::Queries(ondemand::value& v, std::string_view field) {
  return Elements(v, [&](ondemand::value& item) {
    return Members(item, [&](std::string_view key, ondemand::value& m) -> error_code {
      if (key != "rrname") return simdjson::SUCCESS;
      std::string_view s;
      if (const error_code e = StringOf(m, &s)) return e;
      Add(ValueKind::kDomain, s, field);
      return simdjson::SUCCESS;
    });
  });
}

error_code EveReader::Answers(ondemand::value& v) {
  return Elements(v, [&](ondemand::value& item) {
    return Members(item, [&](std::string_view key, ondemand::value& m) -> error_code {
      if (key != "rdata") return simdjson::SUCCESS;
      std::string_view s;
      if (const error_code e = StringOf(m, &s)) return e;
      AddHost(s, 2, "dns.answers.rdata");
      return simdjson::SUCCESS;
    });
  });
}

error_code EveReader::Grouped(ondemand::value& v) {
  return Members(v, [&](std::string_view key, ondemand::value& m) -> error_code {
    std::string_view field;
    if (key == "A") {
      field = "dns.grouped.A";
    } else if (key == "AAAA") {
      field = "dns.grouped.AAAA";
    } else if (key == "CNAME") {
      field = "dns.grouped.CNAME";
    } else if (key == "PTR") {
      field = "dns.grouped.PTR";
    } else if (key == "NS") {
      field = "dns.grouped.NS";
    } else if (key == "MX") {
      field = "dns.grouped.MX";
    } else {
      return simdjson::SUCCESS;
    }
    return ForEachString(m, [&](std::string_view s) { AddHost(s, 2, field); });
  });
}

// hostname (domain or IP), the URL rebuilt from hostname, port and path, the user agent.
error_code EveReader::Http(ondemand::value& v) {
  std::string_view hostname, url, agent;
  int64_t port = 0;
  const error_code e = Members(v, [&](std::string_view key, ondemand::value& m) -> error_code {
    if (key == "hostname") return StringOf(m, &hostname);
    if (key == "url") return StringOf(m, &url);
    if (key == "http_user_agent") return StringOf(m, &agent);
    if (key == "http_port") {
      int64_t p = 0;
      if (m.get_int64().get(p) == simdjson::SUCCESS) port = p;
    }
    return simdjson::SUCCESS;
  });
  if (e) return e;
  // The port of the request: the Host header's (http_port), else the server's in an http event (whose
  // dest is the server; an alert's dest may be the client).
  if (port == 0 && http_event_) port = dest_port_;
  AddHost(hostname, 1, "http.hostname");
  if (url.starts_with("http://") || url.starts_with("https://")) {
    Add(ValueKind::kUrl, url, "http.url");
  } else if (!hostname.empty() && url.starts_with('/')) {  // not CONNECT's "host:port" nor OPTIONS' "*"
    char digits[24];
    std::string_view port_text;
    if (port > 0 && port != 80 && port < 65536) {
      const auto r = std::to_chars(digits, digits + sizeof digits, port);
      port_text = std::string_view(digits, static_cast<size_t>(r.ptr - digits));
    }
    const bool v6 = IsIpv6(hostname);
    Add(ValueKind::kUrl,
        arena_.Concat(
            {"http://", v6 ? "[" : "", hostname, v6 ? "]" : "", port_text.empty() ? "" : ":", port_text, url}),
        "http.url");
  }
  Add(ValueKind::kUserAgent, agent, "http.http_user_agent");
  return simdjson::SUCCESS;
}

error_code EveReader::Tls(ondemand::value& v) {
  return Members(v, [&](std::string_view key, ondemand::value& m) -> error_code {
    std::string_view s;
    if (key == "sni") {
      if (const error_code e = StringOf(m, &s)) return e;
      Add(ValueKind::kDomain, s, "tls.sni");
    } else if (key == "serial") {
      if (const error_code e = StringOf(m, &s)) return e;
      Add(ValueKind::kX509Serial, s, "tls.serial");
    } else if (key == "ja3") {
      return Members(m, [&](std::string_view k, ondemand::value& h) -> error_code {
        if (k != "hash") return simdjson::SUCCESS;
        std::string_view hash;
        if (const error_code e = StringOf(h, &hash)) return e;
        Add(ValueKind::kJa3, hash, "tls.ja3.hash");
        return simdjson::SUCCESS;
      });
    }
    return simdjson::SUCCESS;
  });
}

error_code EveReader::Fileinfo(ondemand::value& v) {
  return Members(v, [&](std::string_view key, ondemand::value& m) -> error_code {
    ValueKind kind;
    std::string_view field;
    if (key == "filename") {
      kind = ValueKind::kFilename, field = "fileinfo.filename";
    } else if (key == "md5") {
      kind = ValueKind::kMd5, field = "fileinfo.md5";
    } else if (key == "sha1") {
      kind = ValueKind::kSha1, field = "fileinfo.sha1";
    } else if (key == "sha256") {
      kind = ValueKind::kSha256, field = "fileinfo.sha256";
    } else {
      return simdjson::SUCCESS;
    }
    std::string_view s;
    if (const error_code e = StringOf(m, &s)) return e;
    Add(kind, s, field);
    return simdjson::SUCCESS;
  });
}

// smtp.mail_from / rcpt_to[] ("<a@b>"), email.from / to[] / cc[] ("Name <a@b>").
error_code EveReader::Mail(ondemand::value& v, bool smtp) {
  return Members(v, [&](std::string_view key, ondemand::value& m) -> error_code {
    std::string_view field;
    if (smtp && key == "mail_from") {
      field = "smtp.mail_from";
    } else if (smtp && key == "rcpt_to") {
      field = "smtp.rcpt_to";
    } else if (!smtp && key == "from") {
      field = "email.from";
    } else if (!smtp && key == "to") {
      field = "email.to";
    } else if (!smtp && key == "cc") {
      field = "email.cc";
    } else {
      return simdjson::SUCCESS;
    }
    return ForEachString(m, [&](std::string_view s) { AddMailbox(s, field); });
  });
}

}  // namespace

std::unique_ptr<LogReader> NewEveReader() { return std::make_unique<EveReader>(); }

}  // namespace concord::detect::logs::detail
