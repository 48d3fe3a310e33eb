// concord/audit/entry_file.h — audit entries in an append-only file of their own (the first step of moving the
// SQLite audit log's entries out of its b-tree; docs/audit.md, "The entry file").
//
// Why. Under lists of 100 at 10k/s the audit costs a node 35-55 µs of CPU per list against 70-90 µs for the list
// itself (docs/benchmarks.md, session 11), and about a third of it is the b-tree: an INSERT of a 2.2 KB row per entry,
// every commit rewriting the table's last pages into the write-ahead log, and the checkpoints copying them all
// back. The log is append-only by design, so it needs none of that: an entry is appended once, with one write()
// per group commit, and nothing ever rewrites it.
//
// Two files:
//
//     PATH        the entries:  header record*
//       header  := "concord-audit-1\n" first_seq:u64 0:u64                 (32 bytes; integers little-endian)
//       record  := size:u32 body size:u32     the size twice, so that the last record is found from the end
//       body    := 0x01 seq:leb time_us:leb action:str user:str org:str key_id:str object_ids:str outcome:str
//                  justification:str remote_address:str detail:str prev_hash:32 hash:32
//       str     := length:leb bytes           leb: unsigned LEB128 (common/packed_ids.h)
//     PATH.idx    where each entry starts:  "concord-aidx-1\n\0" first_seq:u64 0:u64  offset:u64*
//
// object_ids is the packed form (common/packed_ids.h), detail the canonical JSON text that is hashed, prev_hash
// and hash the 32 bytes of the SHA-256 (hex when hashed and shown). Entry seq is the (seq - first_seq)th offset
// of the .idx file, which is derived data: the entry file alone is the log, and an open for writing rebuilds
// what the .idx lacks.
//
// Appends. Several processes may append (a node and the CLI): each append holds an open-file-description lock
// on PATH (fcntl F_OFD_SETLKW; unlike a POSIX lock, it is not dropped when another descriptor of the file is
// closed) from reading the head to the end of its writes: first the records in one pwrite, then their offsets.
// Under the lock the head is re-read whenever the files' sizes are not what this process left, so the chain
// never forks. A process that dies mid-append leaves at most a torn last record past the last offset: the next
// open for writing or append finds it (framing: both sizes and the seq) and moves those bytes to
// PATH.torn-<offset> before cutting the file back, so that nothing that was there is lost unseen (a torn record
// was never acknowledged: its append had not returned). More than 64 MiB of such bytes is damage, not a torn
// write: the open or append fails (FailedPrecondition, naming the entry and byte) and nothing is cut.
//
// Durability: with Options::sync_each_append every append ends with fdatasync of PATH (its offsets are derived);
// without, Sync() does it (the owner calls it periodically, as SQLite's synchronous=NORMAL leaves a WAL's commits
// to the checkpoint's fsync).
//
// Readers take no lock: an entry is visible once its offset is in the .idx file, which is written after its
// record, so a reader never sees part of a record.
//
// Thread-safety: every call is safe from several threads (one mutex for appends, reads use pread).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace concord::audit {

// One entry as the entry file stores it; views into a buffer (a record read, or the caller's).
struct StoredRecord {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string_view action, user, org, key_id;
  std::string_view object_ids;  // packed (common/packed_ids.h)
  std::string_view outcome, justification, remote_address;
  std::string_view detail;     // canonical JSON text
  std::string_view prev_hash;  // 32 bytes
  std::string_view hash;       // 32 bytes
};

inline constexpr char kEntryRecordKind = '\x01';
inline constexpr size_t kEntryFileHeaderBytes = 32;
// A body larger than this is refused when written and taken for damage when read: an export chunk of 10,000 ids
// is about 170 KB.
inline constexpr uint32_t kMaxEntryRecordBytes = 256u << 20;

// Appends the record (size, body, size) of `r` to `out`. InvalidArgument when a hash is not 32 bytes, the seq or
// time is negative, or the body would exceed kMaxEntryRecordBytes.
[[nodiscard]] absl::Status AppendEntryRecord(std::string& out, const StoredRecord& r);
// Decodes a record's body (between its two sizes). InvalidArgument naming the field and the byte offset for
// anything that is not the form exactly (trailing bytes included).
[[nodiscard]] absl::StatusOr<StoredRecord> DecodeEntryBody(std::string_view body);

// 64 lower-case hex digits of a 32-byte hash, and back (InvalidArgument for anything but 64 hex digits).
std::string HashHex(std::string_view raw);
[[nodiscard]] absl::StatusOr<std::string> HashBytes(std::string_view hex);

class EntryFile {
 public:
  struct Options {
    bool read_only = false;
    bool sync_each_append = false;
    // The seq of the first entry, for a file created by this open (an existing file keeps its own).
    int64_t first_seq = 1;
  };
  // What an open for writing or an append found and repaired at the tail.
  struct Repair {
    int64_t offsets_added = 0;    // entries the .idx file lacked
    int64_t offsets_dropped = 0;  // offsets naming no complete record
    int64_t torn_bytes = 0;       // bytes past the last complete record, moved to `torn_path`
    std::string torn_path;
  };

  // Opens PATH and PATH.idx; read-write creates them when missing and repairs the tail under the lock.
  // NotFound for a read-only open of a missing file; FailedPrecondition for a file that is not an entry file (or
  // whose .idx names another first seq).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EntryFile>> Open(const std::string& path, const Options& options);
  ~EntryFile();
  EntryFile(const EntryFile&) = delete;
  EntryFile& operator=(const EntryFile&) = delete;

  int64_t first_seq() const { return first_seq_; }
  const std::string& path() const { return path_; }
  // The last entry's seq as the .idx file holds it now (first_seq - 1 when empty).
  [[nodiscard]] absl::StatusOr<int64_t> LastSeq() const;
  // What the last open or append repaired (all zero when the tail was whole).
  Repair last_repair() const;

  // Builds and appends records under the lock. `build` gets the head as the file holds it now (its last seq, and
  // its raw hash: empty when the file holds no entry) and appends to `records` the records (AppendEntryRecord)
  // of seqs last_seq + 1, + 2, … in order, returning how many; nothing is written when it fails or returns 0.
  using Build = absl::FunctionRef<absl::StatusOr<size_t>(int64_t last_seq, std::string_view last_hash, std::string& records)>;
  [[nodiscard]] absl::Status Append(Build build);

  // Entry `seq`, read into `buffer` (the views point there). NotFound past the head or before first_seq;
  // DataLoss when the bytes there are not a record of that seq.
  [[nodiscard]] absl::StatusOr<StoredRecord> Read(int64_t seq, std::string& buffer) const;
  // Calls visit for each entry from `from` to `to` (inclusive; clipped to what exists) in seq order, until it
  // returns false. A record that does not decode is passed as its status with its seq (the verifier reports it
  // and stops); visit's own error ends the scan with it.
  using Visit = absl::FunctionRef<absl::StatusOr<bool>(int64_t seq, const absl::StatusOr<StoredRecord>& record)>;
  [[nodiscard]] absl::Status Scan(int64_t from, int64_t to, Visit visit) const;

  // fdatasync of both files.
  [[nodiscard]] absl::Status Sync();

 private:
  EntryFile(std::string path, const Options& options) : path_(std::move(path)), options_(options) {}
  // Under the lock: brings the cached head and sizes up to what the files hold, repairing a torn tail.
  absl::Status Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> OffsetOf(int64_t seq) const;

  const std::string path_;
  const Options options_;
  int fd_ = -1;
  int idx_fd_ = -1;
  int64_t first_seq_ = 1;

  mutable std::mutex mu_;
  // As this process last left the files: their sizes, the last entry's seq and raw hash.
  uint64_t end_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t idx_end_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
  Repair repair_ ABSL_GUARDED_BY(mu_);
  std::string records_ ABSL_GUARDED_BY(mu_);  // Append's buffer
};

}  // namespace concord::audit
