// concord/pattern/pattern.h — the STIX 2.1 patterning language (STIX 2.1 §9): parsing and validation.
//
// Parse() turns a pattern string into an immutable Pattern: a flat, index-linked AST (observation
// expression nodes, comparison expression nodes, comparisons, path steps, literals) whose strings are
// views into storage the Pattern owns. Validation (hash formats, literal forms, qualifier rules, regex
// compilation, object type names) happens during parsing, so a Pattern that exists is valid.
//
// Errors are absl::InvalidArgumentError with the message "offset N: REASON" (N a 0-based byte offset
// into the pattern text); the offset and reason are also kept structurally (GetParseError).
//
// Thread-safety: Parse() is thread-safe. A Pattern is immutable after Parse(); any number of threads may
// read, evaluate (evaluate.h) and extract (extract.h) from one Pattern concurrently. Share it as
// std::shared_ptr<const Pattern>. Pattern is move-only (its views point into storage it owns; moving
// keeps them valid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/time.h"

// PCRE2's compiled-code type, so that this header does not pull in pcre2.h.
struct pcre2_real_code_8;

namespace concord::pattern {

// ---------------------------------------------------------------------------------------------------
// AST

enum class LiteralKind : uint8_t { kString, kInteger, kFloat, kBoolean, kTimestamp, kHex, kBinary };

struct Literal {
  LiteralKind kind = LiteralKind::kString;
  uint32_t offset = 0;     // byte offset of the literal in the pattern text
  std::string_view text;   // as written, with quotes and prefix: 'a\'b', t'…', h'…', 42
  // kString: the unescaped value in Unicode NFC. kHex / kBinary: the decoded bytes. Otherwise empty.
  std::string_view value;
  int64_t integer = 0;     // kInteger
  double real = 0;         // kFloat (and kInteger, converted)
  bool boolean = false;    // kBoolean
  Timestamp timestamp;     // kTimestamp
};

enum class PathStepKind : uint8_t { kProperty, kIndex, kAnyIndex };

struct PathStep {
  PathStepKind kind = PathStepKind::kProperty;
  std::string_view name;  // kProperty: the property name (quotes removed, unescaped)
  int64_t index = 0;      // kIndex
};

struct ObjectPath {
  std::string_view object_type;      // "file"
  std::span<const PathStep> steps;   // "hashes", "SHA-256"; never empty
  uint32_t offset = 0;
};

enum class Operator : uint8_t {
  kEqual,
  kNotEqual,
  kLess,
  kGreater,
  kLessEqual,
  kGreaterEqual,
  kIn,
  kLike,
  kMatches,
  kIsSubset,
  kIsSuperset,
  kExists,
};
std::string_view OperatorName(Operator op);  // "=", "!=", "IN", "EXISTS", …

struct Comparison {
  ObjectPath path;
  Operator op = Operator::kEqual;
  bool negated = false;                 // NOT before the operator
  std::span<const Literal> literals;    // one; the IN list; none for EXISTS
  uint32_t offset = 0;
  const pcre2_real_code_8* regex = nullptr;  // kMatches: compiled (UTF) and owned by the Pattern
};

// Comparison expressions inside one [ ]. AND and OR are n-ary: a chain "a OR b OR c" is one node with
// three operands, so the tree depth is bounded by the parenthesis nesting (ParseOptions::max_depth).
enum class ComparisonNodeKind : uint8_t { kComparison, kAnd, kOr };
struct ComparisonNode {
  ComparisonNodeKind kind = ComparisonNodeKind::kComparison;
  uint32_t comparison = 0;             // kComparison: index into Pattern::comparisons()
  std::span<const uint32_t> operands;  // kAnd / kOr: two or more comparison nodes, in source order
};

enum class ObservationNodeKind : uint8_t {
  kObservation,  // [ comparison expression ]
  kAnd,          // n-ary, like the comparison operators
  kOr,
  kFollowedBy,   // n-ary: operands[0] FOLLOWEDBY operands[1] FOLLOWEDBY …
  kWithin,       // child WITHIN seconds SECONDS
  kRepeats,      // child REPEATS n TIMES
  kStartStop,    // child START t'…' STOP t'…'
};
struct ObservationNode {
  ObservationNodeKind kind = ObservationNodeKind::kObservation;
  uint32_t offset = 0;                 // of '[', the first operator, or the qualifier keyword
  uint32_t expression = 0;             // kObservation: the root comparison node
  uint32_t child = 0;                  // qualifiers: the qualified observation node
  std::span<const uint32_t> operands;  // kAnd / kOr / kFollowedBy: two or more observation nodes
  double within_seconds = 0;           // kWithin (> 0)
  int64_t repeats = 0;                 // kRepeats (> 0)
  Timestamp start, stop;               // kStartStop (start < stop)
};

// ---------------------------------------------------------------------------------------------------
// Errors

// Where and why a pattern was rejected.
struct ParseError {
  size_t offset = 0;    // 0-based byte offset into the pattern text
  std::string message;  // e.g. "expected ']', found 'AND'"
};

// The structured error of a Status returned by Parse(), or nullopt for other statuses.
std::optional<ParseError> GetParseError(const absl::Status& status);

// ---------------------------------------------------------------------------------------------------
// Parsing

struct ParseOptions {
  size_t max_depth = 100;         // nesting of parentheses and brackets; deeper input is an error
  size_t max_length = 1u << 20;   // bytes
};

class Pattern {
 public:
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;
  ~Pattern();

  // Parses and validates `text` (STIX 2.1 §9). Error: InvalidArgument "offset N: …" with a ParseError.
  [[nodiscard]] static absl::StatusOr<Pattern> Parse(std::string_view text, const ParseOptions& options = {});

  std::string_view text() const { return {text_.get(), text_size_}; }
  uint32_t root() const { return root_; }  // index into observation_nodes()
  std::span<const ObservationNode> observation_nodes() const { return observation_nodes_; }
  std::span<const ComparisonNode> comparison_nodes() const { return comparison_nodes_; }
  std::span<const Comparison> comparisons() const { return comparisons_; }

  // A canonical rendering (single spaces, explicit parentheses) for logs and tests.
  std::string ToString() const;

 private:
  friend class Parser;
  Pattern();

  // The pattern text and the decoded strings the AST's views point into. Both live on the heap at
  // addresses that a move of the Pattern does not change (unlike a std::string's inline buffer).
  std::unique_ptr<char[]> text_;
  size_t text_size_ = 0;
  std::vector<std::unique_ptr<std::string>> decoded_;
  std::vector<ObservationNode> observation_nodes_;
  std::vector<ComparisonNode> comparison_nodes_;
  std::vector<Comparison> comparisons_;
  std::vector<uint32_t> operands_;  // operand lists of the n-ary nodes (both kinds)
  std::vector<PathStep> steps_;
  std::vector<Literal> literals_;
  struct RegexDeleter {
    void operator()(pcre2_real_code_8* code) const;
  };
  std::vector<std::unique_ptr<pcre2_real_code_8, RegexDeleter>> regexes_;
  uint32_t root_ = 0;
};

}  // namespace concord::pattern
