// Hand-written lexer and recursive-descent parser for STIX 2.1 patterns (§9), with the semantic checks.
//
// Why hand-written: one pass, no parse tree, no per-token heap objects; strings are views into the
// Pattern's own copy of the text. bench/pattern_benchmark.cc measures it (≥ 1 M simple patterns/s).
//
// Grammar (precedence from loosest to tightest; all binary operators left-associative):
//   pattern      := obs_fby END
//   obs_fby      := obs_or  (FOLLOWEDBY obs_or)*
//   obs_or       := obs_and (OR obs_and)*
//   obs_and      := obs_qual (AND obs_qual)*
//   obs_qual     := obs_primary (WITHIN num SECONDS | REPEATS int TIMES | START t'' STOP t'')*
//   obs_primary  := '[' cmp_or ']' | '(' obs_fby ')'
//   cmp_or       := cmp_and (OR cmp_and)*
//   cmp_and      := cmp_primary (AND cmp_primary)*
//   cmp_primary  := '(' cmp_or ')' | EXISTS path | path NOT? op operand
//   path         := type ':' (ident | string) ('.' (ident | string) | '[' (int | '*') ']')*
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fmt/format.h"
#include "pattern/detail/text.h"
#include "pattern/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace concord::pattern {

namespace {

// A double as the pattern grammar writes numbers: digits and an optional fraction, never an exponent
// (the fuzzer found WITHIN 2.7e57 rendered as "2.7777777777777777e+57", which does not parse back).
// The shortest form that reads back as the same double when it has no exponent; otherwise fixed notation
// with enough digits for the same double.
std::string PlainNumber(double v) {
  std::string shortest = fmt::format("{}", v);
  if (shortest.find_first_of("eE") == std::string::npos) return shortest;
  if (std::fabs(v) >= 1) return fmt::format("{:.0f}", v);  // the double's exact integer value
  const int exponent = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  std::string fixed = fmt::format("{:.{}f}", v, 17 - exponent);
  while (fixed.size() > 1 && fixed.back() == '0') fixed.pop_back();
  return fixed;
}

}  // namespace


namespace {

constexpr char kOffsetPayload[] = "concord/pattern-offset";
constexpr char kReasonPayload[] = "concord/pattern-reason";

enum class Tok : uint8_t {
  kEnd,
  kLBrack,
  kRBrack,
  kLParen,
  kRParen,
  kColon,
  kDot,
  kComma,
  kStar,
  kEq,
  kNeq,
  kLt,
  kLe,
  kGt,
  kGe,
  kIdent,
  kString,
  kInt,
  kFloat,
  kBool,
  kTimestamp,
  kHex,
  kBinary,
  // keywords
  kAnd,
  kOr,
  kNot,
  kFollowedBy,
  kLike,
  kMatches,
  kIsSubset,
  kIsSuperset,
  kExists,
  kIn,
  kStart,
  kStop,
  kSeconds,
  kWithin,
  kRepeats,
  kTimes,
};

struct Token {
  Tok kind = Tok::kEnd;
  uint32_t offset = 0;
  std::string_view text;  // whole token as written
  bool has_escape = false;  // kString: contains a backslash escape
};

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Tok KeywordOrIdent(std::string_view w) {
  switch (w.size()) {
    case 2:
      if (w == "OR") return Tok::kOr;
      if (w == "IN") return Tok::kIn;
      break;
    case 3:
      if (w == "AND") return Tok::kAnd;
      if (w == "NOT") return Tok::kNot;
      break;
    case 4:
      if (w == "LIKE") return Tok::kLike;
      if (w == "STOP") return Tok::kStop;
      break;
    case 5:
      if (w == "START") return Tok::kStart;
      if (w == "TIMES") return Tok::kTimes;
      break;
    case 6:
      if (w == "EXISTS") return Tok::kExists;
      if (w == "WITHIN") return Tok::kWithin;
      break;
    case 7:
      if (w == "MATCHES") return Tok::kMatches;
      if (w == "SECONDS") return Tok::kSeconds;
      if (w == "REPEATS") return Tok::kRepeats;
      break;
    case 8:
      if (w == "ISSUBSET") return Tok::kIsSubset;
      break;
    case 10:
      if (w == "FOLLOWEDBY") return Tok::kFollowedBy;
      if (w == "ISSUPERSET") return Tok::kIsSuperset;
      break;
    default:
      break;
  }
  if (w.size() == 4 || w.size() == 5) {
    auto lower_eq = [&](std::string_view lit) {
      if (w.size() != lit.size()) return false;
      for (size_t i = 0; i < w.size(); ++i) {
        char c = w[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lit[i]) return false;
      }
      return true;
    };
    if (lower_eq("true") || lower_eq("false")) return Tok::kBool;
  }
  return Tok::kIdent;
}

std::string Describe(const Token& t) {
  if (t.kind == Tok::kEnd) return "end of pattern";
  std::string_view s = t.text;
  if (s.size() > 24) return fmt::format("'{}…'", s.substr(0, 24));
  return fmt::format("'{}'", s);
}

// A literal token as written, shortened for messages (t'…', h'…' and b'…' carry their own quotes).
std::string Raw(const Token& t) {
  if (t.text.size() > 40) return fmt::format("{}…", t.text.substr(0, 40));
  return std::string(t.text);
}

struct Failure {
  size_t offset;
  std::string message;
};

absl::Status MakeError(size_t offset, std::string message) {
  absl::Status s = absl::InvalidArgumentError(fmt::format("offset {}: {}", offset, message));
  s.SetPayload(kOffsetPayload, absl::Cord(std::to_string(offset)));
  s.SetPayload(kReasonPayload, absl::Cord(message));
  return s;
}

bool IsValidObjectType(std::string_view t) {
  if (t.size() < 3 || t.size() > 250) return false;
  for (char c : t) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '-')) return false;
  }
  return true;
}

// Expected hex length for the hash algorithms STIX 2.1 §10.7 names; 0 = not checked.
size_t HashHexLength(std::string_view name) {
  char buf[16];
  size_t n = 0;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    if (n == sizeof(buf)) return 0;
    buf[n++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const std::string_view k(buf, n);
  if (k == "MD5") return 32;
  if (k == "SHA1") return 40;
  if (k == "SHA256" || k == "SHA3256") return 64;
  if (k == "SHA512" || k == "SHA3512") return 128;
  return 0;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!(IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

std::string_view KindName(LiteralKind k) {
  switch (k) {
    case LiteralKind::kString: return "string";
    case LiteralKind::kInteger: return "integer";
    case LiteralKind::kFloat: return "float";
    case LiteralKind::kBoolean: return "boolean";
    case LiteralKind::kTimestamp: return "timestamp";
    case LiteralKind::kHex: return "hex";
    case LiteralKind::kBinary: return "binary";
  }
  return "?";
}

}  // namespace

std::string_view OperatorName(Operator op) {
  switch (op) {
    case Operator::kEqual: return "=";
    case Operator::kNotEqual: return "!=";
    case Operator::kLess: return "<";
    case Operator::kGreater: return ">";
    case Operator::kLessEqual: return "<=";
    case Operator::kGreaterEqual: return ">=";
    case Operator::kIn: return "IN";
    case Operator::kLike: return "LIKE";
    case Operator::kMatches: return "MATCHES";
    case Operator::kIsSubset: return "ISSUBSET";
    case Operator::kIsSuperset: return "ISSUPERSET";
    case Operator::kExists: return "EXISTS";
  }
  return "?";
}

std::optional<ParseError> GetParseError(const absl::Status& status) {
  auto off = status.GetPayload(kOffsetPayload);
  auto reason = status.GetPayload(kReasonPayload);
  if (!off || !reason) return std::nullopt;
  ParseError e;
  const std::string o(*off);
  std::from_chars(o.data(), o.data() + o.size(), e.offset);
  e.message = std::string(*reason);
  return e;
}

void Pattern::RegexDeleter::operator()(pcre2_real_code_8* code) const { pcre2_code_free_8(code); }

Pattern::Pattern() = default;
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;
Pattern::~Pattern() = default;

class Parser {
 public:
  Parser(Pattern& out, const ParseOptions& options) : p_(out), options_(options) {
    src_ = p_.text();
  }

  bool Run() {
    Advance();
    if (failed_) return false;
    uint32_t root;
    if (!ParseFollowedBy(root)) return false;
    if (tok_.kind != Tok::kEnd) return Expect("FOLLOWEDBY, AND, OR, a qualifier or end of pattern");
    p_.root_ = root;
    // The vectors are final now: turn the recorded ranges into spans.
    for (size_t i = 0; i < p_.comparisons_.size(); ++i) {
      Comparison& c = p_.comparisons_[i];
      c.path.steps = std::span<const PathStep>(p_.steps_.data() + ranges_[i].step_begin, ranges_[i].step_count);
      c.literals = std::span<const Literal>(p_.literals_.data() + ranges_[i].literal_begin,
                                            ranges_[i].literal_count);
    }
    const uint32_t* ops = p_.operands_.data();
    for (size_t i = 0; i < p_.comparison_nodes_.size(); ++i) {
      p_.comparison_nodes_[i].operands = std::span<const uint32_t>(ops + cmp_ranges_[i].first, cmp_ranges_[i].second);
    }
    for (size_t i = 0; i < p_.observation_nodes_.size(); ++i) {
      p_.observation_nodes_[i].operands = std::span<const uint32_t>(ops + obs_ranges_[i].first, obs_ranges_[i].second);
    }
    return true;
  }

  Failure failure() const { return failure_; }

 private:
  struct Ranges {
    uint32_t step_begin, step_count, literal_begin, literal_count;
  };

  // ----- errors
  bool Fail(size_t offset, std::string message) {
    if (!failed_) {
      failed_ = true;
      failure_ = {offset, std::move(message)};
    }
    return false;
  }
  bool Expect(std::string_view what) {
    return Fail(tok_.offset, fmt::format("expected {}, found {}", what, Describe(tok_)));
  }

  // ----- lexer
  void SkipSpace() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  // Scans a quoted body starting at the opening quote; sets end past the closing quote.
  bool ScanQuoted(size_t quote, size_t& end, bool& has_escape) {
    size_t i = quote + 1;
    has_escape = false;
    while (i < src_.size()) {
      const char c = src_[i];
      if (c == '\\') {
        if (i + 1 >= src_.size()) break;
        const char e = src_[i + 1];
        if (e != '\'' && e != '\\') {
          const auto u = static_cast<unsigned char>(e);
          const std::string shown = u >= 0x21 && u < 0x7F ? std::string(1, e) : fmt::format("\\x{:02x}", u);
          return Fail(i, fmt::format("invalid escape '\\{}' (only \\' and \\\\)", shown));
        }
        has_escape = true;
        i += 2;
        continue;
      }
      if (c == '\'') {
        end = i + 1;
        return true;
      }
      ++i;
    }
    return Fail(quote, "unterminated string literal");
  }

  void Advance() {
    SkipSpace();
    Tok prev = tok_.kind;
    tok_ = Token{};
    tok_.offset = static_cast<uint32_t>(pos_);
    if (pos_ >= src_.size()) {
      tok_.kind = Tok::kEnd;
      return;
    }
    const size_t start = pos_;
    const char c = src_[pos_];
    auto single = [&](Tok k, size_t n) {
      tok_.kind = k;
      pos_ += n;
    };
    const char next = pos_ + 1 < src_.size() ? src_[pos_ + 1] : '\0';
    switch (c) {
      case '[': single(Tok::kLBrack, 1); break;
      case ']': single(Tok::kRBrack, 1); break;
      case '(': single(Tok::kLParen, 1); break;
      case ')': single(Tok::kRParen, 1); break;
      case ':': single(Tok::kColon, 1); break;
      case ',': single(Tok::kComma, 1); break;
      case '*': single(Tok::kStar, 1); break;
      case '=': single(Tok::kEq, next == '=' ? 2 : 1); break;
      case '!':
        if (next != '=') {
          Fail(start, "unexpected character '!'");
          return;
        }
        single(Tok::kNeq, 2);
        break;
      case '<':
        if (next == '=') {
          single(Tok::kLe, 2);
        } else if (next == '>') {
          single(Tok::kNeq, 2);
        } else {
          single(Tok::kLt, 1);
        }
        break;
      case '>': single(next == '=' ? Tok::kGe : Tok::kGt, next == '=' ? 2 : 1); break;
      case '\'': {
        size_t end = 0;
        bool esc = false;
        if (!ScanQuoted(pos_, end, esc)) return;
        tok_.kind = Tok::kString;
        tok_.has_escape = esc;
        pos_ = end;
        break;
      }
      case '.': {
        const bool literal_position = prev == Tok::kEq || prev == Tok::kNeq || prev == Tok::kLt ||
                                      prev == Tok::kLe || prev == Tok::kGt || prev == Tok::kGe ||
                                      prev == Tok::kComma || prev == Tok::kLParen || prev == Tok::kWithin;
        if (literal_position && IsDigit(next)) {
          LexNumber();
          return;
        }
        single(Tok::kDot, 1);
        break;
      }
      default:
        if (IsDigit(c) || ((c == '+' || c == '-') && (IsDigit(next) || next == '.'))) {
          LexNumber();
          return;
        }
        if ((c == 't' || c == 'h' || c == 'b') && next == '\'') {
          size_t end = 0;
          bool esc = false;
          if (!ScanQuoted(pos_ + 1, end, esc)) return;
          if (esc) {
            Fail(start, "escapes are not allowed in t'', h'' and b'' literals");
            return;
          }
          tok_.kind = c == 't' ? Tok::kTimestamp : c == 'h' ? Tok::kHex : Tok::kBinary;
          pos_ = end;
          break;
        }
        if (IsIdentStart(c)) {
          size_t i = pos_ + 1;
          while (i < src_.size() && IsIdentChar(src_[i])) ++i;
          tok_.kind = KeywordOrIdent(src_.substr(pos_, i - pos_));
          pos_ = i;
          break;
        }
        if (static_cast<unsigned char>(c) >= 0x80) {
          Fail(start, "unexpected non-ASCII character outside a string literal");
        } else if (c < 0x20 || c == 0x7F) {
          Fail(start, fmt::format("unexpected control character 0x{:02x}", static_cast<unsigned>(c)));
        } else {
          Fail(start, fmt::format("unexpected character '{}'", c));
        }
        return;
    }
    tok_.text = src_.substr(start, pos_ - start);
  }

  void LexNumber() {
    const size_t start = pos_;
    size_t i = pos_;
    if (src_[i] == '+' || src_[i] == '-') ++i;
    const size_t int_start = i;
    while (i < src_.size() && IsDigit(src_[i])) ++i;
    const size_t int_digits = i - int_start;
    bool is_float = false;
    if (i < src_.size() && src_[i] == '.' && i + 1 < src_.size() && IsDigit(src_[i + 1])) {
      is_float = true;
      ++i;
      while (i < src_.size() && IsDigit(src_[i])) ++i;
    }
    if (i < src_.size() && (IsIdentStart(src_[i]) || src_[i] == '.')) {
      Fail(start, fmt::format("invalid number '{}'", src_.substr(start, i + 1 - start)));
      return;
    }
    if (int_digits > 1 && src_[int_start] == '0') {
      Fail(start, fmt::format("invalid number '{}': leading zero", src_.substr(start, i - start)));
      return;
    }
    tok_.kind = is_float ? Tok::kFloat : Tok::kInt;
    tok_.text = src_.substr(start, i - start);
    pos_ = i;
  }

  // ----- storage
  std::string_view Store(std::string s) {
    p_.decoded_.push_back(std::make_unique<std::string>(std::move(s)));
    return *p_.decoded_.back();
  }

  // Decodes a single-quoted token body: unescape, check UTF-8, NFC.
  bool DecodeString(const Token& t, std::string_view& out) {
    std::string_view body = t.text.substr(1, t.text.size() - 2);
    if (!t.has_escape && detail::IsAscii(body)) {
      out = body;
      return true;
    }
    std::string unescaped;
    unescaped.reserve(body.size());
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\\') ++i;  // the lexer admitted only \' and \\ .
      unescaped.push_back(body[i]);
    }
    if (!detail::IsValidUtf8(unescaped)) return Fail(t.offset, "string literal is not valid UTF-8");
    out = Store(detail::Nfc(unescaped));
    return true;
  }

  // ----- observation expressions
  bool Enter(size_t offset) {
    if (++depth_ > options_.max_depth) {
      return Fail(offset, fmt::format("nesting deeper than {} levels", options_.max_depth));
    }
    return true;
  }

  uint32_t AddObs(ObservationNode n) {
    p_.observation_nodes_.push_back(n);
    obs_ranges_.push_back({0, 0});
    return static_cast<uint32_t>(p_.observation_nodes_.size() - 1);
  }

  // Records an n-ary node's operands; spans are set once the vectors stop growing (Run()).
  std::pair<uint32_t, uint32_t> AddOperands(const std::vector<uint32_t>& ops) {
    const auto begin = static_cast<uint32_t>(p_.operands_.size());
    p_.operands_.insert(p_.operands_.end(), ops.begin(), ops.end());
    return {begin, static_cast<uint32_t>(ops.size())};
  }

  using ObsParse = bool (Parser::*)(uint32_t&);
  bool ParseObsChain(uint32_t& out, Tok op, ObservationNodeKind kind, ObsParse next) {
    if (!(this->*next)(out)) return false;
    if (tok_.kind != op) return true;
    const uint32_t off = tok_.offset;
    std::vector<uint32_t> ops{out};
    while (tok_.kind == op) {
      Advance();
      uint32_t right;
      if (failed_ || !(this->*next)(right)) return false;
      ops.push_back(right);
    }
    ObservationNode n;
    n.kind = kind;
    n.offset = off;
    out = AddObs(n);
    obs_ranges_[out] = AddOperands(ops);
    return true;
  }

  bool ParseFollowedBy(uint32_t& out) {
    return ParseObsChain(out, Tok::kFollowedBy, ObservationNodeKind::kFollowedBy, &Parser::ParseObsOr);
  }
  bool ParseObsOr(uint32_t& out) {
    return ParseObsChain(out, Tok::kOr, ObservationNodeKind::kOr, &Parser::ParseObsAnd);
  }
  bool ParseObsAnd(uint32_t& out) {
    return ParseObsChain(out, Tok::kAnd, ObservationNodeKind::kAnd, &Parser::ParseObsQualified);
  }

  bool ParseTimestampToken(Timestamp& ts) {
    if (tok_.kind != Tok::kTimestamp) return Expect("a timestamp literal t'…'");
    std::string_view body = tok_.text.substr(2, tok_.text.size() - 3);
    auto parsed = ParseRfc3339(body);
    if (!parsed.ok()) {
      return Fail(tok_.offset, fmt::format("invalid timestamp literal {}: not RFC 3339 UTC", Raw(tok_)));
    }
    ts = *parsed;
    Advance();
    return !failed_;
  }

  bool ParseObsQualified(uint32_t& out) {
    if (!ParseObsPrimary(out)) return false;
    bool seen_within = false, seen_repeats = false, seen_startstop = false;
    for (;;) {
      const uint32_t off = tok_.offset;
      ObservationNode n;
      n.child = out;
      n.offset = off;
      if (tok_.kind == Tok::kWithin) {
        if (seen_within) return Fail(off, "more than one WITHIN qualifier on one observation expression");
        seen_within = true;
        Advance();
        if (failed_) return false;
        if (tok_.kind != Tok::kInt && tok_.kind != Tok::kFloat) return Expect("a number of seconds");
        double v = 0;
        std::from_chars(tok_.text.data() + (tok_.text[0] == '+' ? 1 : 0), tok_.text.data() + tok_.text.size(), v);
        if (!(v > 0)) return Fail(tok_.offset, fmt::format("WITHIN needs a positive number, found {}", Describe(tok_)));
        n.kind = ObservationNodeKind::kWithin;
        n.within_seconds = v;
        Advance();
        if (failed_) return false;
        if (tok_.kind != Tok::kSeconds) return Expect("'SECONDS'");
        Advance();
      } else if (tok_.kind == Tok::kRepeats) {
        if (seen_repeats) return Fail(off, "more than one REPEATS qualifier on one observation expression");
        seen_repeats = true;
        Advance();
        if (failed_) return false;
        if (tok_.kind != Tok::kInt) return Expect("a positive integer");
        int64_t v = 0;
        auto r = std::from_chars(tok_.text.data() + (tok_.text[0] == '+' ? 1 : 0),
                                 tok_.text.data() + tok_.text.size(), v);
        if (r.ec != std::errc() || v <= 0) {
          return Fail(tok_.offset, fmt::format("REPEATS needs a positive integer, found {}", Describe(tok_)));
        }
        n.kind = ObservationNodeKind::kRepeats;
        n.repeats = v;
        Advance();
        if (failed_) return false;
        if (tok_.kind != Tok::kTimes) return Expect("'TIMES'");
        Advance();
      } else if (tok_.kind == Tok::kStart) {
        if (seen_startstop) return Fail(off, "more than one START/STOP qualifier on one observation expression");
        seen_startstop = true;
        Advance();
        if (failed_) return false;
        if (!ParseTimestampToken(n.start)) return false;
        if (tok_.kind != Tok::kStop) return Expect("'STOP'");
        Advance();
        if (failed_) return false;
        const uint32_t stop_off = tok_.offset;
        if (!ParseTimestampToken(n.stop)) return false;
        if (!(n.start < n.stop)) return Fail(stop_off, "STOP must be later than START");
        n.kind = ObservationNodeKind::kStartStop;
        out = AddObs(n);
        continue;
      } else {
        return true;
      }
      if (failed_) return false;
      out = AddObs(n);
    }
  }

  bool ParseObsPrimary(uint32_t& out) {
    const uint32_t off = tok_.offset;
    if (tok_.kind == Tok::kLBrack) {
      if (!Enter(off)) return false;
      Advance();
      if (failed_) return false;
      uint32_t cmp;
      if (!ParseCmpOr(cmp)) return false;
      if (tok_.kind != Tok::kRBrack) return Expect("']'");
      Advance();
      --depth_;
      ObservationNode n;
      n.kind = ObservationNodeKind::kObservation;
      n.offset = off;
      n.expression = cmp;
      out = AddObs(n);
      return !failed_;
    }
    if (tok_.kind == Tok::kLParen) {
      if (!Enter(off)) return false;
      Advance();
      if (failed_ || !ParseFollowedBy(out)) return false;
      if (tok_.kind != Tok::kRParen) return Expect("')'");
      Advance();
      --depth_;
      return !failed_;
    }
    return Expect("'[' or '('");
  }

  // ----- comparison expressions
  uint32_t AddCmpNode(ComparisonNode n) {
    p_.comparison_nodes_.push_back(n);
    cmp_ranges_.push_back({0, 0});
    return static_cast<uint32_t>(p_.comparison_nodes_.size() - 1);
  }

  using CmpParse = bool (Parser::*)(uint32_t&);
  bool ParseCmpChain(uint32_t& out, ComparisonNodeKind kind, CmpParse next) {
    const Tok op = kind == ComparisonNodeKind::kAnd ? Tok::kAnd : Tok::kOr;
    if (!(this->*next)(out)) return false;
    if (tok_.kind != op) return true;
    std::vector<uint32_t> ops{out};
    while (tok_.kind == op) {
      Advance();
      uint32_t right;
      if (failed_ || !(this->*next)(right)) return false;
      ops.push_back(right);
    }
    ComparisonNode n;
    n.kind = kind;
    out = AddCmpNode(n);
    cmp_ranges_[out] = AddOperands(ops);
    return true;
  }

  bool ParseCmpOr(uint32_t& out) { return ParseCmpChain(out, ComparisonNodeKind::kOr, &Parser::ParseCmpAnd); }
  bool ParseCmpAnd(uint32_t& out) { return ParseCmpChain(out, ComparisonNodeKind::kAnd, &Parser::ParseCmpPrimary); }

  bool ParseCmpPrimary(uint32_t& out) {
    if (tok_.kind == Tok::kLParen) {
      if (!Enter(tok_.offset)) return false;
      Advance();
      if (failed_ || !ParseCmpOr(out)) return false;
      if (tok_.kind != Tok::kRParen) return Expect("')'");
      Advance();
      --depth_;
      return !failed_;
    }
    Comparison c;
    Ranges r{};
    c.offset = tok_.offset;
    if (tok_.kind == Tok::kExists) {
      Advance();
      if (failed_ || !ParsePath(c.path, r)) return false;
      c.op = Operator::kExists;
      return FinishComparison(c, r, out);
    }
    if (tok_.kind != Tok::kIdent) return Expect("an object path or '('");
    if (!ParsePath(c.path, r)) return false;
    if (tok_.kind == Tok::kNot) {
      c.negated = true;
      Advance();
      if (failed_) return false;
    }
    const Token op_tok = tok_;
    switch (tok_.kind) {
      case Tok::kEq: c.op = Operator::kEqual; break;
      case Tok::kNeq: c.op = Operator::kNotEqual; break;
      case Tok::kLt: c.op = Operator::kLess; break;
      case Tok::kLe: c.op = Operator::kLessEqual; break;
      case Tok::kGt: c.op = Operator::kGreater; break;
      case Tok::kGe: c.op = Operator::kGreaterEqual; break;
      case Tok::kIn: c.op = Operator::kIn; break;
      case Tok::kLike: c.op = Operator::kLike; break;
      case Tok::kMatches: c.op = Operator::kMatches; break;
      case Tok::kIsSubset: c.op = Operator::kIsSubset; break;
      case Tok::kIsSuperset: c.op = Operator::kIsSuperset; break;
      case Tok::kExists:
        return Fail(tok_.offset, "EXISTS goes before the object path: EXISTS type:property");
      default:
        return Expect(c.negated ? "a comparison operator after NOT" : "a comparison operator");
    }
    Advance();
    if (failed_) return false;
    r.literal_begin = static_cast<uint32_t>(p_.literals_.size());
    if (c.op == Operator::kIn) {
      if (tok_.kind != Tok::kLParen) return Expect("'(' starting the IN list");
      Advance();
      if (failed_) return false;
      for (;;) {
        Literal lit;
        if (!ParseLiteral(lit)) return false;
        if (r.literal_count > 0) {
          const Literal& first = p_.literals_[r.literal_begin];
          const bool numeric = [](LiteralKind a, LiteralKind b) {
            auto num = [](LiteralKind k) { return k == LiteralKind::kInteger || k == LiteralKind::kFloat; };
            return num(a) && num(b);
          }(first.kind, lit.kind);
          if (lit.kind != first.kind && !numeric) {
            return Fail(lit.offset, fmt::format("IN list mixes {} and {} literals", KindName(first.kind),
                                                KindName(lit.kind)));
          }
        }
        p_.literals_.push_back(lit);
        ++r.literal_count;
        if (tok_.kind == Tok::kComma) {
          Advance();
          if (failed_) return false;
          continue;
        }
        if (tok_.kind == Tok::kRParen) break;
        return Expect("',' or ')' in the IN list");
      }
      Advance();
      if (failed_) return false;
    } else {
      Literal lit;
      if (!ParseLiteral(lit)) return false;
      if (!CheckOperand(c, op_tok, lit)) return false;
      p_.literals_.push_back(lit);
      r.literal_count = 1;
    }
    if (!CheckHashes(c, r)) return false;
    return FinishComparison(c, r, out);
  }

  bool FinishComparison(Comparison& c, const Ranges& r, uint32_t& out) {
    p_.comparisons_.push_back(c);
    ranges_.push_back(r);
    ComparisonNode n;
    n.kind = ComparisonNodeKind::kComparison;
    n.comparison = static_cast<uint32_t>(p_.comparisons_.size() - 1);
    out = AddCmpNode(n);
    return true;
  }

  bool CheckOperand(Comparison& c, const Token& op_tok, const Literal& lit) {
    const std::string_view op = op_tok.text;
    switch (c.op) {
      case Operator::kLess:
      case Operator::kGreater:
      case Operator::kLessEqual:
      case Operator::kGreaterEqual:
        if (lit.kind == LiteralKind::kBoolean) {
          return Fail(lit.offset, fmt::format("operator '{}' needs an orderable literal, found boolean", op));
        }
        return true;
      case Operator::kLike:
      case Operator::kMatches:
      case Operator::kIsSubset:
      case Operator::kIsSuperset:
        if (lit.kind != LiteralKind::kString) {
          return Fail(lit.offset, fmt::format("{} needs a string literal, found {}", op, KindName(lit.kind)));
        }
        break;
      default:
        return true;
    }
    if (c.op == Operator::kIsSubset || c.op == Operator::kIsSuperset) {
      if (!detail::ParseIpNet(lit.value)) {
        return Fail(lit.offset, fmt::format("{} needs an IPv4 or IPv6 CIDR string, found {}", op, lit.text));
      }
    }
    if (c.op == Operator::kMatches) {
      int err = 0;
      PCRE2_SIZE err_off = 0;
      pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(lit.value.data()), lit.value.size(),
                                       PCRE2_UTF | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
      if (code == nullptr) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return Fail(lit.offset, fmt::format("invalid regular expression: {} (at regex offset {})",
                                            reinterpret_cast<const char*>(msg), err_off));
      }
      p_.regexes_.emplace_back(code);
      c.regex = code;
    }
    return true;
  }

  // STIX 2.1 §10.7: hash values have fixed hex lengths.
  bool CheckHashes(const Comparison& c, const Ranges& r) {
    if (c.op != Operator::kEqual && c.op != Operator::kNotEqual && c.op != Operator::kIn) return true;
    if (r.step_count < 2) return true;
    const PathStep& last = p_.steps_[r.step_begin + r.step_count - 1];
    const PathStep& parent = p_.steps_[r.step_begin + r.step_count - 2];
    if (last.kind != PathStepKind::kProperty || parent.kind != PathStepKind::kProperty ||
        parent.name != "hashes") {
      return true;
    }
    const size_t want = HashHexLength(last.name);
    if (want == 0) return true;
    for (uint32_t i = 0; i < r.literal_count; ++i) {
      const Literal& lit = p_.literals_[r.literal_begin + i];
      if (lit.kind != LiteralKind::kString) {
        return Fail(lit.offset, fmt::format("{} hash needs a string literal, found {}", last.name, KindName(lit.kind)));
      }
      if (lit.value.size() != want || !IsHex(lit.value)) {
        return Fail(lit.offset, fmt::format("invalid {} hash: expected {} hex digits, found {}", last.name, want,
                                            lit.text));
      }
    }
    return true;
  }

  bool ParseLiteral(Literal& lit) {
    lit.offset = tok_.offset;
    lit.text = tok_.text;
    switch (tok_.kind) {
      case Tok::kString:
        lit.kind = LiteralKind::kString;
        if (!DecodeString(tok_, lit.value)) return false;
        break;
      case Tok::kInt: {
        lit.kind = LiteralKind::kInteger;
        const char* b = tok_.text.data() + (tok_.text[0] == '+' ? 1 : 0);
        auto res = std::from_chars(b, tok_.text.data() + tok_.text.size(), lit.integer);
        if (res.ec != std::errc()) return Fail(tok_.offset, fmt::format("integer {} is out of range", Describe(tok_)));
        lit.real = static_cast<double>(lit.integer);
        break;
      }
      case Tok::kFloat: {
        lit.kind = LiteralKind::kFloat;
        const char* b = tok_.text.data() + (tok_.text[0] == '+' ? 1 : 0);
        auto res = std::from_chars(b, tok_.text.data() + tok_.text.size(), lit.real);
        if (res.ec != std::errc()) return Fail(tok_.offset, fmt::format("float {} is out of range", Describe(tok_)));
        break;
      }
      case Tok::kBool:
        lit.kind = LiteralKind::kBoolean;
        lit.boolean = tok_.text.size() == 4;
        break;
      case Tok::kTimestamp: {
        lit.kind = LiteralKind::kTimestamp;
        auto ts = ParseRfc3339(tok_.text.substr(2, tok_.text.size() - 3));
        if (!ts.ok()) {
          return Fail(tok_.offset, fmt::format("invalid timestamp literal {}: not RFC 3339 UTC", Raw(tok_)));
        }
        lit.timestamp = *ts;
        break;
      }
      case Tok::kHex: {
        lit.kind = LiteralKind::kHex;
        auto bytes = detail::DecodeHex(tok_.text.substr(2, tok_.text.size() - 3));
        if (!bytes) {
          return Fail(tok_.offset, fmt::format("invalid hex literal {}: needs an even number of hex digits",
                                               Raw(tok_)));
        }
        lit.value = Store(std::move(*bytes));
        break;
      }
      case Tok::kBinary: {
        lit.kind = LiteralKind::kBinary;
        auto bytes = detail::DecodeBase64(tok_.text.substr(2, tok_.text.size() - 3));
        if (!bytes) return Fail(tok_.offset, fmt::format("invalid binary literal {}: not base64", Raw(tok_)));
        lit.value = Store(std::move(*bytes));
        break;
      }
      default:
        return Expect("a literal");
    }
    Advance();
    return !failed_;
  }

  bool ParsePath(ObjectPath& path, Ranges& r) {
    if (tok_.kind != Tok::kIdent) return Expect("an object type");
    path.offset = tok_.offset;
    path.object_type = tok_.text;
    if (!IsValidObjectType(path.object_type)) {
      return Fail(tok_.offset, fmt::format("invalid object type {}: use 3-250 characters a-z, 0-9 and '-'",
                                           Describe(tok_)));
    }
    Advance();
    if (failed_) return false;
    if (tok_.kind != Tok::kColon) return Expect("':' after the object type");
    Advance();
    if (failed_) return false;
    r.step_begin = static_cast<uint32_t>(p_.steps_.size());
    if (!ParsePropertyName()) return false;
    for (;;) {
      if (tok_.kind == Tok::kDot) {
        Advance();
        if (failed_ || !ParsePropertyName()) return false;
      } else if (tok_.kind == Tok::kLBrack) {
        Advance();
        if (failed_) return false;
        PathStep s;
        if (tok_.kind == Tok::kStar) {
          s.kind = PathStepKind::kAnyIndex;
        } else if (tok_.kind == Tok::kInt) {
          s.kind = PathStepKind::kIndex;
          auto res = std::from_chars(tok_.text.data() + (tok_.text[0] == '+' ? 1 : 0),
                                     tok_.text.data() + tok_.text.size(), s.index);
          if (res.ec != std::errc() || s.index < 0) {
            return Fail(tok_.offset, fmt::format("list index must be a non-negative integer, found {}", Describe(tok_)));
          }
        } else {
          return Expect("a list index or '*'");
        }
        Advance();
        if (failed_) return false;
        if (tok_.kind != Tok::kRBrack) return Expect("']' closing the list index");
        Advance();
        if (failed_) return false;
        p_.steps_.push_back(s);
      } else {
        break;
      }
    }
    r.step_count = static_cast<uint32_t>(p_.steps_.size()) - r.step_begin;
    return true;
  }

  bool ParsePropertyName() {
    PathStep s;
    s.kind = PathStepKind::kProperty;
    if (tok_.kind == Tok::kIdent) {
      s.name = tok_.text;
    } else if (tok_.kind == Tok::kString) {
      if (!DecodeString(tok_, s.name)) return false;
      if (s.name.empty()) return Fail(tok_.offset, "empty property name");
    } else {
      return Expect("a property name");
    }
    Advance();
    if (failed_) return false;
    p_.steps_.push_back(s);
    return true;
  }

  Pattern& p_;
  const ParseOptions& options_;
  std::string_view src_;
  size_t pos_ = 0;
  Token tok_;
  size_t depth_ = 0;
  bool failed_ = false;
  Failure failure_;
  std::vector<Ranges> ranges_;
  std::vector<std::pair<uint32_t, uint32_t>> cmp_ranges_, obs_ranges_;
};

absl::StatusOr<Pattern> Pattern::Parse(std::string_view text, const ParseOptions& options) {
  // Offsets are 32-bit in the AST; longer input is refused whatever the options say.
  if (text.size() > options.max_length || text.size() > UINT32_MAX - 1) {
    return MakeError(options.max_length, fmt::format("pattern longer than {} bytes", options.max_length));
  }
  Pattern p;
  p.text_ = std::make_unique_for_overwrite<char[]>(text.size() + 1);
  if (!text.empty()) std::memcpy(p.text_.get(), text.data(), text.size());
  p.text_[text.size()] = '\0';
  p.text_size_ = text.size();
  p.observation_nodes_.reserve(2);
  p.comparison_nodes_.reserve(2);
  p.comparisons_.reserve(1);
  p.steps_.reserve(4);
  p.literals_.reserve(2);
  Parser parser(p, options);
  if (!parser.Run()) {
    Failure f = parser.failure();
    return MakeError(f.offset, std::move(f.message));
  }
  return p;
}

// ----- rendering

namespace {

void RenderLiteral(const Literal& l, std::string& out) { out += l.text; }

void RenderPath(const ObjectPath& p, std::string& out) {
  out += p.object_type;
  out += ':';
  bool first = true;
  for (const PathStep& s : p.steps) {
    switch (s.kind) {
      case PathStepKind::kProperty: {
        if (!first) out += '.';
        bool plain = !s.name.empty() && IsIdentStart(s.name[0]);
        for (char c : s.name) plain = plain && IsIdentChar(c) && c != '-';
        plain = plain && KeywordOrIdent(s.name) == Tok::kIdent;  // 'TIMES', 'true' stay quoted
        if (plain) {
          out += s.name;
        } else {
          out += '\'';
          for (char c : s.name) {
            if (c == '\'' || c == '\\') out += '\\';
            out += c;
          }
          out += '\'';
        }
        break;
      }
      case PathStepKind::kIndex: out += fmt::format("[{}]", s.index); break;
      case PathStepKind::kAnyIndex: out += "[*]"; break;
    }
    first = false;
  }
}

void RenderCmp(const Pattern& p, uint32_t idx, std::string& out, bool top) {
  const ComparisonNode& n = p.comparison_nodes()[idx];
  if (n.kind == ComparisonNodeKind::kComparison) {
    const Comparison& c = p.comparisons()[n.comparison];
    if (c.op == Operator::kExists) {
      out += "EXISTS ";
      RenderPath(c.path, out);
      return;
    }
    RenderPath(c.path, out);
    out += c.negated ? " NOT " : " ";
    out += OperatorName(c.op);
    out += ' ';
    if (c.op == Operator::kIn) {
      out += '(';
      for (size_t i = 0; i < c.literals.size(); ++i) {
        if (i) out += ", ";
        RenderLiteral(c.literals[i], out);
      }
      out += ')';
    } else {
      RenderLiteral(c.literals[0], out);
    }
    return;
  }
  if (!top) out += '(';
  for (size_t i = 0; i < n.operands.size(); ++i) {
    if (i) out += n.kind == ComparisonNodeKind::kAnd ? " AND " : " OR ";
    RenderCmp(p, n.operands[i], out, false);
  }
  if (!top) out += ')';
}

void RenderObs(const Pattern& p, uint32_t idx, std::string& out, bool top);

bool IsQualifier(ObservationNodeKind k) {
  return k == ObservationNodeKind::kWithin || k == ObservationNodeKind::kRepeats ||
         k == ObservationNodeKind::kStartStop;
}

// Renders the child of qualifier `n`. A child whose own qualifier chain already holds n's kind needs
// parentheses, or the rendering would read as two qualifiers of one kind on one expression.
void RenderQualified(const Pattern& p, const ObservationNode& n, std::string& out) {
  bool clash = false;
  for (uint32_t c = n.child; IsQualifier(p.observation_nodes()[c].kind); c = p.observation_nodes()[c].child) {
    clash = clash || p.observation_nodes()[c].kind == n.kind;
  }
  if (clash) out += '(';
  RenderObs(p, n.child, out, clash);
  if (clash) out += ')';
}

void RenderObs(const Pattern& p, uint32_t idx, std::string& out, bool top) {
  const ObservationNode& n = p.observation_nodes()[idx];
  switch (n.kind) {
    case ObservationNodeKind::kObservation:
      out += '[';
      RenderCmp(p, n.expression, out, true);
      out += ']';
      return;
    case ObservationNodeKind::kAnd:
    case ObservationNodeKind::kOr:
    case ObservationNodeKind::kFollowedBy: {
      const char* op = n.kind == ObservationNodeKind::kAnd  ? " AND "
                       : n.kind == ObservationNodeKind::kOr ? " OR "
                                                            : " FOLLOWEDBY ";
      if (!top) out += '(';
      for (size_t i = 0; i < n.operands.size(); ++i) {
        if (i) out += op;
        RenderObs(p, n.operands[i], out, false);
      }
      if (!top) out += ')';
      return;
    }
    case ObservationNodeKind::kWithin:
      RenderQualified(p, n, out);
      out += fmt::format(" WITHIN {} SECONDS", PlainNumber(n.within_seconds));
      return;
    case ObservationNodeKind::kRepeats:
      RenderQualified(p, n, out);
      out += fmt::format(" REPEATS {} TIMES", n.repeats);
      return;
    case ObservationNodeKind::kStartStop:
      RenderQualified(p, n, out);
      out += fmt::format(" START t'{}' STOP t'{}'", FormatRfc3339(n.start), FormatRfc3339(n.stop));
      return;
  }
}

}  // namespace

std::string Pattern::ToString() const {
  std::string out;
  RenderObs(*this, root_, out, true);
  return out;
}

}  // namespace concord::pattern
