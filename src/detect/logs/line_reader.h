// concord/detect/logs/line_reader.h — the part every format shares: cutting fed bytes into lines (with
// the 1 MiB cap and a bounded pending buffer), line numbers and offsets, the per-line observable list and
// scratch arena, statistics and the first errors. Each format implements ParseLine. Internal.
//
// Thread-safety: none; one reader per source.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "detect/logs/log_reader.h"
#include "detect/logs/scan.h"

namespace concord::detect::logs::detail {

using Sink = absl::FunctionRef<void(const Record&)>;

class LineReader : public LogReader {
 public:
  void Feed(std::string_view bytes, Sink sink) final;
  void Finish(Sink sink) final;
  const ReaderStats& stats() const final { return stats_; }
  void SetKinds(KindMask kinds) final {
    kinds_ = kinds;
    KindsChanged();
  }
  void SetReadAhead(std::function<void(const Record&)> ahead) final { ahead_ = std::move(ahead); }

 protected:
  // One complete line without its '\n' and a trailing '\r' (the first line also without a UTF-8 BOM).
  // `line` stays valid only during the call. Implementations start from empty observables_/arena_ (the
  // base clears both before each call) and end with Emit() or Malformed(), or neither for a line that
  // holds nothing.
  virtual void ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) = 0;
  // After the last line of the source (CSV: an open quoted field is an error).
  virtual void EndOfSource(Sink /*sink*/) {}
  // After kinds_ changed (a format that skips fields by kind recomputes which).
  virtual void KindsChanged() {}

  bool Wants(pattern::ValueKind kind) const { return (kinds_ & KindBit(kind)) != 0; }
  bool WantsAny(KindMask kinds) const { return (kinds_ & kinds) != 0; }
  void Add(pattern::ValueKind kind, std::string_view value, std::string_view field) {
    if (!value.empty() && Wants(kind)) observables_.push_back(Observable{kind, value, field});
  }
  // Hands observables_ to the sink as one record when there is at least one. With read-ahead on and
  // `may_hold` (the record's views outlive the next ParseLine: they point into the line, arena_, or
  // state that only a header line changes), the record is held and handed over after the next line.
  void Emit(uint64_t number, uint64_t offset, std::optional<int64_t> time_ms, Sink sink, bool may_hold = false);
  // Hands a held record to the sink (a format calls it before changing what held views point into, e.g.
  // the field names a header line replaces).
  void FlushHeld(Sink sink) {
    if (!holding_) return;
    holding_ = false;
    sink(held_);
  }
  // Counts a malformed line (record) and keeps its message when fewer than 10 are kept.
  void Malformed(uint64_t number, std::string_view why);

  std::vector<Observable> observables_;
  Arena arena_;
  KindMask kinds_ = kAllKinds;  // ReaderOptions::kinds

 private:
  // `stable`: the line is in the fed bytes (not pending_), so views into it outlive the next line.
  void Line(std::string_view line, bool stable, Sink sink);

  ReaderStats stats_;
  std::string pending_;       // the start of a line whose '\n' has not arrived
  bool discarding_ = false;   // the current line passed kMaxLineBytes: drop bytes until '\n'
  uint64_t line_number_ = 1;  // of the line being read
  uint64_t line_offset_ = 0;  // of its first byte
  uint64_t consumed_ = 0;     // bytes fed so far
  // Read-ahead (SetReadAhead): the held record lives in held_observables_/held_arena_, swapped with
  // observables_/arena_ when it was emitted.
  std::function<void(const Record&)> ahead_;
  bool line_stable_ = false;
  bool holding_ = false;
  Record held_;
  std::vector<Observable> held_observables_;
  Arena held_arena_;
};

}  // namespace concord::detect::logs::detail
