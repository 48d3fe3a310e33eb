#include "node/audit_commands.h"

#include <algorithm>
#include <ostream>

#include "audit/audit.h"
#include "boost/json/serialize.hpp"
#include "common/status.h"
#include "common/time.h"
#include "fmt/format.h"

namespace concord::node {
namespace {

constexpr int kOk = 0;
constexpr int kBroken = 1;
constexpr int kUsage = 2;

int Fail(std::ostream& err, const absl::Status& status) {
  err << "concord: " << Sv(status.message()) << '\n';
  return kUsage;
}

absl::StatusOr<audit::Head> ParseAnchor(std::string_view text) {
  const size_t colon = text.find(':');
  const auto bad = [&] {
    return absl::InvalidArgumentError(fmt::format("--anchor: expected SEQ:HASH (64 hex digits), got '{}'", text));
  };
  if (colon == std::string_view::npos || colon == 0 || colon > 18) return bad();
  const std::string_view seq = text.substr(0, colon);
  const std::string_view hash = text.substr(colon + 1);
  if (!std::all_of(seq.begin(), seq.end(), [](char c) { return c >= '0' && c <= '9'; })) return bad();
  if (hash.size() != 64 ||
      !std::all_of(hash.begin(), hash.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return bad();
  }
  return audit::Head{std::stoll(std::string(seq)), std::string(hash)};
}

}  // namespace

int RunAuditVerify(const std::string& db, const AuditVerifyArgs& args, bool json, std::ostream& out, std::ostream& err) {
  audit::VerifyOptions options;
  if (!args.anchor.empty()) {
    auto anchor = ParseAnchor(args.anchor);
    if (!anchor.ok()) return Fail(err, anchor.status());
    options.anchor = *anchor;
  }
  auto log = audit::OpenAuditLog(db, {.read_only = true});
  if (!log.ok()) return Fail(err, log.status());
  auto v = (*log)->Verify(options);
  if (!v.ok()) return Fail(err, v.status());
  if (json) {
    boost::json::object doc{{"intact", v->intact},
                            {"entries", v->entries},
                            {"head", boost::json::object{{"seq", v->head.seq}, {"hash", v->head.hash}}}};
    if (!v->intact) {
      doc["bad_seq"] = v->bad_seq;
      doc["problem"] = audit::ProblemName(v->problem);
      doc["detail"] = v->detail;
    }
    out << boost::json::serialize(doc) << '\n';
  } else if (v->intact) {
    out << fmt::format("audit log intact: {} entries, head {} {}\n", v->entries, v->head.seq, v->head.hash);
  } else {
    out << fmt::format("audit log broken at entry {}: {} ({})\n", v->bad_seq, audit::ProblemName(v->problem), v->detail);
  }
  return v->intact ? kOk : kBroken;
}

int RunAuditList(const std::string& db, const AuditListArgs& args, bool json, std::ostream& out, std::ostream& err) {
  audit::Filter f;
  for (auto [text, field, name] : {std::tuple{&args.since, &f.since, "--since"}, std::tuple{&args.until, &f.until, "--until"}}) {
    if (text->empty()) continue;
    auto ts = ParseRfc3339(*text);
    if (!ts.ok()) return Fail(err, Annotate(ts.status(), name));
    *field = *ts;
  }
  if (!args.action.empty()) {
    f.action = audit::ParseAction(args.action);
    if (!f.action) {
      return Fail(err, absl::InvalidArgumentError(fmt::format(
                           "--action: unknown action '{}' (write, read, export, disclose, revoke, key-use, auth-failure, admin)",
                           args.action)));
    }
  }
  f.user = args.user;
  f.org = args.org;
  f.object_id = args.object;
  f.after_seq = args.after;
  auto log = audit::OpenAuditLog(db, {.read_only = true});
  if (!log.ok()) return Fail(err, log.status());
  size_t shown = 0;
  if (!json) {
    out << fmt::format("{:>8}  {:<27}  {:<12}  {:<16}  {:<8}  {}\n", "seq", "time", "action", "user", "outcome",
                       "objects");
  }
  for (;;) {
    const size_t want = args.limit == 0 ? 1000 : std::min<size_t>(1000, args.limit - shown);
    if (want == 0) break;
    f.limit = want;
    auto page = (*log)->List(f);
    if (!page.ok()) return Fail(err, page.status());
    for (const auto& e : page->entries) {
      if (json) {
        out << boost::json::serialize(audit::EntryJson(e)) << '\n';
      } else {
        const auto j = audit::EntryJson(e);
        std::string objects;
        for (size_t i = 0; i < e.event.object_ids.size() && i < 3; ++i) objects += (i ? " " : "") + e.event.object_ids[i];
        if (e.event.object_ids.size() > 3) objects += fmt::format(" (+{})", e.event.object_ids.size() - 3);
        out << fmt::format("{:>8}  {:<27}  {:<12}  {:<16}  {:<8}  {}\n", e.seq, std::string_view(j.at("time").as_string()),
                           audit::ActionName(e.event.action), e.event.user.empty() ? "-" : e.event.user,
                           e.event.outcome, objects);
      }
      ++shown;
    }
    if (!page->more) break;
    f.after_seq = page->next_after_seq;
  }
  return kOk;
}

}  // namespace concord::node
