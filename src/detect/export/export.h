// concord/detect/export/export.h — detection export writers: indicators → files that IDS/DNS/SIEM tools load.
//
// A caller (the export snapshot, `concord export`, `GET /api/v1/export/{format}`) creates one ExportWriter
// per export, Add()s every exportable value of every indicator, then calls Finish() once. Writers stream:
// each Add() writes at once, and a writer's memory is O(1) in the number of indicators (a few counters, the
// previous indicator id, at most one bounded address chunk), apart from the streams' own buffers.
//
// Values come from other organisations and are hostile. Every writer either escapes a value by its format's
// own rules so that it cannot leave its field, rule option or record, or skips it and counts the skip in
// skipped(). Nothing is ever written raw. Per format (what is written, what is skipped):
//
//  suricata  Suricata 6.0 rules (Debian 12's release line; the syntax is also valid for 7.x). Main output:
//            the rules. ipv4/ipv6/cidr4/cidr6 → `alert ip any any <> ADDR any`; domain → dns.query, tls.sni
//            and http.host rules (exact: content + bsize; with subdomains: `dotprefix; content:".d"; endswith`,
//            which matches the domain and every name below it); url (http:// or scheme-less) → http.host +
//            http.uri pair, both exact (bsize); user-agent → http.user_agent; ja3 → ja3.hash; filename → the
//            6.0 `filename:` keyword (substring match, plain names only); md5/sha1/sha256 → one
//            filemd5/filesha1/filesha256 rule at Finish() over a list file (concord-md5.txt, …) that collects
//            the hashes as they come. File rules are `alert http` (files carried over HTTP).
//            Every rule: msg "<source> <kind> <value> (<name or id>)", classtype trojan-activity,
//            `metadata:concord_id <id>, tlp <tlp>, score <0..100>`, sid from first_sid up, rev 1. Contents hex
//            every byte outside plain printable ASCII and `"` `;` `\` `|` `:` `,` (so odd domain values are
//            expressed, not skipped); msg escapes `"` `;` `\` and turns control/non-ASCII bytes into '?';
//            metadata tokens keep [A-Za-z0-9_.+-] only.
//            Aggregation (`dataset_threshold`, a streaming reading of "too many for rules", since counts are
//            unknown until the end): the first `dataset_threshold` values of each kind become one attributed
//            rule each; every later value of that kind is aggregated instead — exact domains, ja3 and user
//            agents are appended to a Suricata `string` dataset file (concord-domain.lst, …: base64 lines) that
//            one rule per dataset, emitted at Finish(), loads with `dataset:isset,…,type string,load …`;
//            addresses go into `alert ip` rules over address lists of at most kAddressChunk entries.
//            Suricata 6.0 has only string/md5/sha256 datasets (ipv4/ip came with 7.0), hence address lists;
//            6.0 also lacks `to_lowercase`, so dataset domain matching is case-sensitive (DNS names in traffic
//            are usually lower-case; the attributed rules use nocase). Domains with subdomains are never
//            aggregated (a set cannot match suffixes). Aggregated rules carry no per-indicator metadata.
//            Dataset `load` and list files resolve relative to the rules file: keep them in one directory.
//            Skipped: email, sha512, sha3-*, ssdeep, tlsh, mutex, registry-key, asn, mac, x509-serial, urls
//            of other schemes (https cannot be matched by URI), malformed addresses/hashes, empty values,
//            filenames with quote/semicolon/backslash/pipe/control/non-ASCII bytes, and — when `out` accepts
//            no named outputs (StreamOutput) — hashes; with a StreamOutput aggregation into datasets falls
//            back to one rule per value.
//  snort     Snort 3 rules (no datasets). ip kinds as Suricata; domain → DNS qname wire-format content on
//            udp/53 (exact: anchored at offset 12; with subdomains: unanchored) plus `http_header:field host`;
//            url → http_uri + host; user-agent → http_header:field user-agent. Skipped: hashes, ja3, filename,
//            and everything Suricata skips. Domains whose labels are not LDH/underscore are skipped.
//  zeek      Zeek Intel framework file: `#fields` header, one tab-separated row per value. Types ADDR, SUBNET,
//            DOMAIN (Zeek matches exact names only; include_subdomains cannot be expressed and is dropped),
//            URL (scheme stripped, as Zeek's seen URLs carry none), EMAIL, FILE_HASH (md5/sha1/sha256, the
//            hashes Zeek computes), FILE_NAME, SOFTWARE (user agents). Bytes that Zeek's ASCII reader would
//            misread (tab, control bytes, backslash, non-ASCII, a leading '#') are written as `\xHH`, which the
//            reader decodes back (also "-" and "(empty)" alone, which would read as unset/empty). Empty meta
//            is `-`; meta.desc is "name (id)" or the id. URLs lose their fragment. Skipped: ja3, x509-serial
//            (Zeek's CERT_HASH is a certificate hash, not a serial), sha512 (Zeek computes md5/sha1/sha256
//            only), malformed addresses and hashes, and the other kinds.
//  rpz       DNS RPZ zone file: $TTL, SOA (serial = generated_at in Unix seconds), NS. domain → `name CNAME .`
//            (NXDOMAIN), with subdomains also `*.name CNAME .`; ipv4/cidr4/ipv6/cidr6 → rpz-ip triggers
//            (`32.4.3.2.1.rpz-ip`, IPv6 with `zz` for the longest zero run). Skipped: every other kind, and
//            domains a zone cannot hold or that would turn into another RPZ trigger (labels outside
//            [A-Za-z0-9_-], an empty or over-long label or name, a label starting with "rpz-").
//  csv       RFC 4180 with CRLF: `id,kind,value,tlp,score,valid_until,name`. Fields are quoted when they hold
//            `,` `"` CR or LF. Formula-injection safe: a cell starting with = + - @ TAB or CR is prefixed
//            with an apostrophe ('). Skips nothing.
//  text      One value per line (a domain with subdomains once, as the domain), for blocklist loaders that
//            trust their lines. Addresses are written canonical; skipped: invalid addresses/networks, domains
//            that are not host names (IsHostName), malformed hashes, and any value holding CR, LF or NUL.
//  stix      One STIX 2.1 bundle, `{"type":"bundle","id":…,"objects":[…]}`, written incrementally; each object
//            once (consecutive Add()s of one id write it once), object_json verbatim. Needs
//            ExportOptions::bundle_id (Create → InvalidArgument without one); an object_json that is not a
//            `{…}` object → InvalidArgument from Add().
//
// written() counts Add()ed values that were expressed (written or aggregated); skipped() counts the others
// by kind. An I/O failure of an output stream is an error (DataLoss) from Add() or Finish().
//
// Thread-safety: a writer and an OutputSet are used by one thread at a time; distinct writers are independent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pattern/extract.h"
#include "stix/object.h"

namespace concord::detect::exports {

enum class ExportFormat { kSuricata, kSnort, kZeek, kRpz, kCsv, kText, kStix };

// "suricata", "snort", "zeek", "rpz", "csv", "text", "stix"; nullopt for anything else.
std::optional<ExportFormat> ParseExportFormat(std::string_view name);
std::string_view ExportFormatName(ExportFormat format);
// The conventional main file name of a format: "concord-suricata.rules", "concord.intel",
// "concord.rpz.zone", "concord.csv", …
std::string_view DefaultMainFile(ExportFormat format);

// One exportable value of one indicator. Everything borrowed; valid during Add().
struct ExportIndicator {
  std::string_view id;              // "indicator--…"
  std::string_view name;            // may be empty
  pattern::ValueKind kind;
  std::string_view value;           // normalised (lower-case domain, canonical IP/CIDR, lower-case hex, …)
  bool include_subdomains = false;  // domain: match the domain and everything below it
  stix::Tlp tlp = stix::Tlp::kNone;
  double score = 0;                 // 0..100 (decay score)
  std::string_view valid_until;     // RFC 3339 or ""
  // The whole STIX object (compact JSON), for the stix format. An indicator with several values is Add()ed
  // once per value, its Add()s consecutive.
  std::string_view object_json;
};

// Where writers put bytes. A format may write several named outputs (Suricata: rules plus list files).
class OutputSet {
 public:
  virtual ~OutputSet();
  // The stream for output `name` ("" = the main output). Opened on first use; later calls return the same
  // stream. `name` is a plain file name chosen by the writer.
  virtual absl::StatusOr<std::ostream*> Open(std::string_view name) = 0;
  // Whether Open(name) with a non-empty name can succeed. Writers use it to fall back (Suricata: no datasets)
  // rather than fail half-way through a streamed HTTP body.
  virtual bool AcceptsNamedOutputs() const { return true; }
};

// Files in `dir` (created if missing); the main output is `dir/main_file`, output "x" is `dir/x`. Names
// with a path separator, "." or ".." are refused (InvalidArgument).
std::unique_ptr<OutputSet> DirectoryOutput(std::filesystem::path dir, std::string main_file);
// The main output is `main`; Open("x") for x != "" → FailedPrecondition (the format needs a directory).
std::unique_ptr<OutputSet> StreamOutput(std::ostream& main);

struct ExportOptions {
  std::string source = "Concord";              // rule msg prefix / Zeek meta.source / zone and file comments
  uint32_t first_sid = 9'100'000;              // Suricata/Snort sid range start
  size_t dataset_threshold = 1000;             // Suricata: attributed rules per kind before aggregation
  std::string rpz_origin = "rpz.concord.local";  // RPZ zone name
  std::string generated_at;                    // RFC 3339, for headers and the RPZ serial ("" → serial 1)
  std::string bundle_id;                       // STIX: "bundle--<uuid>", required for that format
};

// Suricata: most addresses in one aggregated `alert ip` rule.
inline constexpr size_t kAddressChunk = 100;

class ExportWriter {
 public:
  // InvalidArgument for options the format cannot use (a bad rpz_origin, a missing bundle_id).
  static absl::StatusOr<std::unique_ptr<ExportWriter>> Create(ExportFormat format, OutputSet& out,
                                                              const ExportOptions& options = {});
  virtual ~ExportWriter();
  [[nodiscard]] virtual absl::Status Add(const ExportIndicator& indicator) = 0;  // streaming: writes now
  [[nodiscard]] virtual absl::Status Finish() = 0;  // trailers; once, after the last Add()
  // Kinds (or single values) the format cannot express are skipped and counted, not errors.
  virtual const std::map<pattern::ValueKind, uint64_t>& skipped() const = 0;
  virtual uint64_t written() const = 0;
};

}  // namespace concord::detect::exports
