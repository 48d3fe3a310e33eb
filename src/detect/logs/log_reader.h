// concord/detect/logs/log_reader.h — observables (IPs, domains, URLs, hashes, …) out of security logs.
//
// A LogReader reads one source (a file, a pipe) of one format line by line and hands each line that holds
// at least one observable to a sink as a Record. Formats:
//   eve    Suricata EVE JSON: fixed fields per event type (src_ip, dns.rrname, http.hostname, tls.sni, …).
//   zeek   Zeek logs, TSV with their '#' header or JSON lines, auto-detected per line; fields by #path.
//   jsonl  JSON lines: ReaderOptions::fields names the (dotted) paths and kinds; without it every string
//          leaf is scanned with ScanText.
//   csv    RFC 4180 CSV: ReaderOptions::fields names columns; without it every cell is scanned.
//   text   anything else: ScanText on each line, defanged indicators refanged.
//
// Contract:
//   - Bytes arrive through Feed in arbitrary pieces; the records, statistics and errors are the same for
//     every way of cutting the same bytes. Finish reads a last line without '\n'.
//   - A malformed line (bad JSON, a TSV line before any #fields, a line over 1 MiB, …) is counted in
//     stats() and skipped; nothing is fatal. Memory stays bounded: a few times the longest line read
//     (pending line, simdjson's buffers, the scratch arena), and lines are capped at kMaxLineBytes.
//   - Record and Observable views (values, field names) are valid only during the sink call: they point
//     into the fed bytes, the reader's pending-line buffer, simdjson's string buffer or the reader's
//     per-line scratch arena (unescaped Zeek fields, built URLs, refanged text), all reused for the next line.
//   - Values are as found (unescaped where the format escapes, refanged where defanged) and not normalised:
//     no lower-casing, no dedup across or within a record. Extraction alone changes text: EVE mail fields
//     give the address inside "Name <a@b>", a Host's ":port" is dropped from the host observable, and HTTP
//     URLs are built ("http://" + host [+ ":" port] + path; the field is the path's: "http.url", "uri").
//   - In steady state no reader allocates per line.
// Thread-safety: a reader is not thread-safe; give each source its own reader. ScanText and the free
// functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "pattern/extract.h"

namespace concord::detect::logs {

enum class Format { kEve, kZeek, kJsonl, kCsv, kText };

// "eve", "zeek", "jsonl", "csv", "text" (exact, lower case); nullopt otherwise.
std::optional<Format> ParseFormat(std::string_view name);
std::string_view FormatName(Format format);

// Lines longer than this are counted malformed and skipped (up to the next '\n').
inline constexpr size_t kMaxLineBytes = size_t{1} << 20;

// A set of value kinds: bit k stands for ValueKind k.
using KindMask = uint64_t;
inline constexpr KindMask kAllKinds = ~KindMask{0};
constexpr KindMask KindBit(pattern::ValueKind kind) { return KindMask{1} << static_cast<unsigned>(kind); }

struct Observable {
  pattern::ValueKind kind;
  std::string_view value;  // as found (unescaped/refanged), not normalised; valid only during the sink call
  std::string_view field;  // "dns.rrname", "query", "id.resp_h", a CSV column name; "" for text
};

struct Record {
  uint64_t line = 0;               // 1-based line number in the source (a CSV record: its first line)
  uint64_t offset = 0;             // byte offset of the line's first byte
  std::optional<int64_t> time_ms;  // event time (EVE "timestamp", Zeek "ts", ReaderOptions::time_field)
  std::span<const Observable> observables;
};

// A dotted JSON path ("dns.rrname"; "a.b" also matches a flat key "a.b") or a CSV column name (without a
// header row: the 1-based column number, "3").
struct FieldMapping {
  std::string field;
  pattern::ValueKind kind;
};

struct ReaderOptions {
  // jsonl and csv: which fields hold what; each value (each element of an array; a number's digits as
  // written) of a mapped field is one observable of that kind, as is. kIpv4 and kIpv6 are interchangeable:
  // the value's shape decides, and a value that is no address is skipped. Empty: every string value/cell
  // is scanned with ScanText; the field is its dotted path/column name.
  std::vector<FieldMapping> fields;
  char csv_delimiter = ',';
  bool csv_header = true;  // first row names the columns
  // jsonl and csv (addition): the field holding the event time, RFC 3339/ISO 8601 text ("…T…Z", "+0000")
  // or Unix seconds (number or numeric text). Empty: records carry no time.
  std::string time_field;
  // Every format: only observables of these kinds are reported (a record left with none is not handed
  // to the sink), and fields that can hold nothing else are not examined at all — e.g. a Zeek dns.log's
  // address columns when no address kind is wanted. Matching sets it from Snapshot::observed_kinds().
  // Lines are still read and checked in full: line numbers, malformed lines and times do not change.
  KindMask kinds = kAllKinds;
};

struct ReaderStats {
  uint64_t lines = 0;                     // lines read, including headers, blank and malformed lines
  uint64_t records = 0;                   // records handed to the sink
  uint64_t observables = 0;               // observables in those records
  uint64_t malformed = 0;                 // lines (CSV: records) skipped as malformed
  std::vector<std::string> first_errors;  // the first 10, "line 17: expected a JSON object"
};

class LogReader {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LogReader>> Create(Format format,
                                                                         const ReaderOptions& options = {});
  virtual ~LogReader();

  // Feeds the next bytes of the source. Complete lines are parsed at once; a trailing partial line is
  // kept until the next Feed or Finish. `sink` is called for each record with at least one observable.
  virtual void Feed(std::string_view bytes, absl::FunctionRef<void(const Record&)> sink) = 0;
  // Reads the last line when it has no '\n' (and, for CSV, reports an unterminated quoted field).
  virtual void Finish(absl::FunctionRef<void(const Record&)> sink) = 0;
  virtual const ReaderStats& stats() const = 0;
  // Replaces ReaderOptions::kinds from the next line on (e.g. after the matcher's snapshot changed).
  virtual void SetKinds(KindMask kinds) = 0;
  // Read-ahead (empty: off, the default). `ahead` is called with each record as soon as its line is read;
  // the sink may then get that record only after the next line has been read (and always before Feed or
  // Finish returns), so that work started in `ahead` — Matcher::Prefetch fetching the table lines the
  // record's lookups will touch — overlaps with reading that line instead of stalling the sink. Records
  // reach the sink in the same order with the same content, and their views stay valid until the sink call
  // returns. Only records whose views survive the next line are held back (Zeek TSV lines that arrived
  // within one Feed); every other record goes to the sink right after `ahead`. Records, statistics and
  // errors stay the same for every way of cutting the bytes.
  virtual void SetReadAhead(std::function<void(const Record&)> ahead) = 0;
};

// The plain-text scanner: every IPv4, IPv6, domain, URL, e-mail address and MD5/SHA-1/SHA-256/SHA-512 hex
// hash in `text`, in order of appearance (a URL comes before the host and anything else found inside it).
// Defanged indicators are refanged first: "hxxp(s)" → "http(s)" before ':', "[.]" "(.)" "{.}" "[dot]"
// "(dot)" → ".", "[:]" → ":", "[://]" → "://", "[@]" "[at]" → "@"; values then point into a refanged copy
// valid only during the callback. Rules, chosen so that a false positive costs one failed lookup while
// a false negative loses a sighting:
//   ipv4    four dotted decimal octets 0-255, not inside a longer dotted number ("1.2.3.4.5", "v1.2.3.4").
//   ipv6    RFC 4291 text forms incl. "::" and an embedded IPv4 tail; not glued to a word ("std::ab"); times
//           (10:00:00) and MACs are not addresses (too few groups, no "::").
//   domain  ≥ 2 labels of letters, digits and '-', TLD alphabetic (≥ 2) or "xn--…", ≤ 253 bytes, not
//           preceded by '.', '-' or '_'. A TLD that is a common file extension (exe dll pdf txt doc docx
//           xls xlsx ppt pptx rtf zip rar gz tgz tar 7z js php asp aspx jsp html htm css png jpg jpeg gif bmp
//           svg ico log json xml csv ini cfg conf tmp dat bin sh py bat ps1 vbs msi jar lnk scr hta) is a
//           file name, not a domain; so names under the real TLDs .zip, .sh and .py appear in free text
//           only as part of a URL. Mapped and format fields (dns.rrname, query, …) are not affected.
//   url     http, https, ftp (and refanged hxxp/hxxps) "://" up to whitespace, a control byte, a quote,
//           '<', '>', ')', ']' or '}'; trailing ".,;:!?" dropped.
//   email   local part [A-Za-z0-9._%+-] starting alphanumeric, '@', a domain as above.
//   hashes  exactly 32/40/64/128 hex digits with no letter or digit on either side.
void ScanText(std::string_view text, absl::FunctionRef<void(pattern::ValueKind, std::string_view)> found);

}  // namespace concord::detect::logs
