// libFuzzer target for the audit entry file (audit/entry_file.h): untrusted bytes, since whoever holds the file
// can edit it. The input is used twice:
//   - as a record's body: DecodeEntryBody must refuse it with an error naming a field and a byte, or decode it
//     to fields that AppendEntryRecord writes back to exactly these bytes;
//   - as what follows a valid header in an entry file with no .idx: the open for writing repairs the tail (keeps
//     whole records, moves the rest aside), and then every entry reads and scans without a crash, the scan
//     seeing exactly the entries LastSeq names.
// Any crash, sanitizer report or abort is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "audit/entry_file.h"

namespace {

std::string Header() {
  std::string header = "concord-audit-1\n";
  header.push_back('\x01');
  header.append(15, '\0');  // first seq 1 (u64, little-endian), then 8 reserved bytes
  return header;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace concord::audit;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto record = DecodeEntryBody(input);
  if (record.ok()) {
    std::string out;
    if (!AppendEntryRecord(out, *record).ok()) {
      // Only a seq of 0 decodes and is refused on the way back (the writer never writes one).
      if (record->seq != 0) std::abort();
    } else if (out.size() != input.size() + 8 || std::string_view(out).substr(4, input.size()) != input) {
      std::abort();
    }
  } else if (record.status().message().find(" at byte ") == absl::string_view::npos) {
    std::abort();
  }

  // A scratch directory of this process, removed when it exits.
  static const struct Scratch {
    std::string path = std::filesystem::temp_directory_path().string() + "/audit_entry_file_fuzz." + std::to_string(getpid());
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } scratch;
  const std::string& dir = scratch.path;
  const std::string path = dir + "/audit.log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(path, std::ios::binary);
    const std::string header = Header();
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  auto file = EntryFile::Open(path, {});
  if (!file.ok()) return 0;  // an I/O error: the fuzzer's disk, not a finding
  auto last = (*file)->LastSeq();
  if (!last.ok()) std::abort();
  std::string buffer;
  for (int64_t seq = 1; seq <= *last; ++seq) (void)(*file)->Read(seq, buffer);
  int64_t seen = 0;
  absl::Status scanned = (*file)->Scan(1, INT64_MAX, [&](int64_t seq, const absl::StatusOr<StoredRecord>&) -> absl::StatusOr<bool> {
    if (seq != ++seen) std::abort();
    return true;
  });
  if (!scanned.ok() || seen != *last) std::abort();
  return 0;
}
