#include "detect/logs/line_reader.h"

#include <cstring>

#include "fmt/format.h"

namespace concord::detect::logs::detail {

void LineReader::Feed(std::string_view bytes, Sink sink) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {  // a partial line: keep it, within the cap
      FlushHeld(sink);
      const size_t n = static_cast<size_t>(end - p);
      if (!discarding_) {
        if (pending_.size() + n > kMaxLineBytes) {
          Malformed(line_number_, fmt::format("longer than {} bytes", kMaxLineBytes));
          discarding_ = true;
          pending_.clear();
        } else {
          pending_.append(p, n);
        }
      }
      consumed_ += n;
      return;
    }
    const size_t n = static_cast<size_t>(nl - p);
    if (discarding_) {
      discarding_ = false;
    } else if (!pending_.empty()) {
      if (pending_.size() + n > kMaxLineBytes) {
        Malformed(line_number_, fmt::format("longer than {} bytes", kMaxLineBytes));
      } else {
        pending_.append(p, n);
        Line(pending_, false, sink);
      }
      pending_.clear();
    } else if (n > kMaxLineBytes) {
      Malformed(line_number_, fmt::format("longer than {} bytes", kMaxLineBytes));
    } else {
      Line(std::string_view(p, n), true, sink);
    }
    ++stats_.lines;
    consumed_ += n + 1;
    ++line_number_;
    line_offset_ = consumed_;
    p = nl + 1;
  }
  FlushHeld(sink);
}

void LineReader::Finish(Sink sink) {
  if (discarding_ || !pending_.empty()) {
    if (!discarding_) Line(pending_, false, sink);
    discarding_ = false;
    pending_.clear();
    ++stats_.lines;
    ++line_number_;
    line_offset_ = consumed_;
  }
  FlushHeld(sink);
  observables_.clear();
  arena_.Reset();
  EndOfSource(sink);
}

void LineReader::Line(std::string_view line, bool stable, Sink sink) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line_number_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  observables_.clear();
  arena_.Reset();
  line_stable_ = stable;
  ParseLine(line, line_number_, line_offset_, sink);
  if (!stable) FlushHeld(sink);  // the pending line is cleared after this call
}

void LineReader::Emit(uint64_t number, uint64_t offset, std::optional<int64_t> time_ms, Sink sink, bool may_hold) {
  if (observables_.empty()) return;
  ++stats_.records;
  stats_.observables += observables_.size();
  const Record record{.line = number, .offset = offset, .time_ms = time_ms, .observables = observables_};
  if (!ahead_) return sink(record);
  ahead_(record);
  FlushHeld(sink);
  if (!(may_hold && line_stable_)) return sink(record);
  // Held: the next line is parsed into the other buffers (swapping moves no bytes, the views stay valid).
  held_ = record;
  holding_ = true;
  observables_.swap(held_observables_);
  arena_.Swap(held_arena_);
}

void LineReader::Malformed(uint64_t number, std::string_view why) {
  ++stats_.malformed;
  if (stats_.first_errors.size() < 10) stats_.first_errors.push_back(fmt::format("line {}: {}", number, why));
}

}  // namespace concord::detect::logs::detail
