// concord/audit/sqlite_audit_log.h — the SQLite backend of AuditLog.
//
// Lives in a database file of its own beside the store's (AuditPathOf: NAME.db → NAME.audit.db, 4 KiB pages),
// so that appends never wait for an import's transactions; its tables start from the store's migration 3.
// Connections of its own: a writer (committer thread), a reader for List and Verify (WAL lets a whole-log
// scan run beside appends), a checkpointer and the object indexer's reader.
//
// Group commit. Appends are on the read path of the API (a read above TLP:CLEAR is audited before it is
// answered), so they must be cheap under concurrency. Callers queue their events (AppendAsync, or
// AppendBatch, which waits); one committer thread takes everything queued (up to max_batch events), commits
// it in one BEGIN IMMEDIATE transaction and reports to each caller. Under load, batches grow by themselves;
// alone, an append is one transaction with no added delay. The head (seq, hash, time) is read inside each
// write transaction, so several processes on one file extend one chain; a failed commit fails every append
// of its batch and leaves no gap.
//
// Checkpoints. The committer never checkpoints (wal_autocheckpoint = 0 on its connection): a checkpoint
// copies pages and fsyncs the database, and every request waiting for its entry would wait for that too.
// A WAL hook counts frames instead and wakes a checkpointer thread with a connection of its own, which
// runs PASSIVE checkpoints (they never block writers or readers) once Options::checkpoint_frames are in
// the WAL, each after writing out the WAL's whole pages (PrecleanWal), so that the checkpoint's fsync leaves the
// page the committer writes next locked for a few pages' I/O instead of tens of megabytes' (p99 of the paced list
// of 100: 9.1-28.4 ms in five runs of six without, 5.6-8.3 ms with; docs/benchmarks.md, session 9).
//
// Object index. "Who saw object X" needs an index from object ids to entries. Keyed by object id it would
// cost every audited object a random page write (with 16 KiB pages, a listing of 100 objects wrote more
// than a MiB of WAL). So it is written in runs instead: once Options::index_run_pairs (object, entry) pairs
// have accumulated, or index_run_delay_millis has passed, an indexer thread reads the entries past the mark
// (audit_meta 'objects_seq') on a connection of its own and sorts up to kMaxRunPairs pairs into a run,
// run = the first seq covered: every run sorts after the previous ones, so writing one appends to the
// b-tree. A run is stored in blocks (audit_object_blocks: run, first_id, pairs) of about kBlockPairs pairs with
// the keys ascending; an object's seqs are never split between two blocks of a run, so the block of X in a run
// is the one with the greatest first_id <= X. Since file version 5 `pairs` is packed (docs/audit.md): per key its
// packed id (common/packed_ids.h), its seq count, and its seqs as LEB128 steps from the run's first seq: 1.3
// bytes a pair under a polling client's repeated lists of 100, where the JSON text {"object id": [seq, …], …} of
// earlier files took 6.6 (BlockJson reads both; docs/benchmarks.md, session 10).
// A row per pair (audit_object_index, still read for runs an older Concord wrote) cost a listing of 100
// objects 100 b-tree inserts; a block costs one per ~kBlockPairs pairs (with the pairs grouped per object
// in memory first, lists of 100 on a 200k store took ~25% less node CPU per request). The
// The same runs hold each entry's user and organisation under keys of their own (a leading space, file version
// 3), so that the commit of an append writes the table's last page alone: indexes on user, organisation and
// time cost every group commit three more pages of WAL (List finds a time by a binary search over seq, times
// never decreasing along it). The
// committer writes a prepared run about kRunChunkBytes per transaction, while no append waits or, under
// appends that never pause, once per kRunChunkWait (else the index fell behind for as long as the load
// lasted), and registers it (audit_object_runs, the mark) with its last chunk: a commit never waits for more than one
// chunk. A lookup seeks once per registered run and reads the object_ids of the entries past the mark, so
// answers are exact at every moment (rows of a run not yet registered are ignored).
// Merges. Under lists of 100 at 10k/s a node registers about 30 runs a second, and each costs a lookup a seek
// (about 15 µs): a day's runs would make "who saw X" take most of a minute. So after each run, the indexer merges
// Options::merge_fan_in (16) runs in a row of one level into one of the next level (PrepareMerge: a k-way merge
// by key, one block of each run read at a time), up to kMaxMergeLevel and kMaxMergeBytes of blocks; the
// committer writes it in chunks like a run (a slot of its own, merge_, so that a long merge never holds up the
// level-0 runs) under a key of its own (MergedBlocksKey, negative) and, in the transaction of its last chunk,
// deletes the runs it replaces and registers it; their blocks, which nothing reads any more, are deleted
// kDeleteChunkBlocks at a time after (all at once they held the appends up for tens of ms). A merge copies each
// key's LEB128 steps as stored, writing only the first seq of each run's list anew. Each level writes the index
// once more (3-16% more CPU per list under the benchmark's lists), hence kMaxMergeLevel.
// A merged run's blocks are encoded from its first seq like any run's; audit_object_runs.blocks names their key
// (NULL: the run number). Runs up to 'actors_from' (without user and organisation keys) are never merged.
// The indexer need not read back what this process wrote: the committer keeps the keys of the entries it
// committed (Committed, up to kMaxKeptPairs pairs, seqs contiguous), and when they continue the mark the run
// is built from them, up to the last one kept (the next run starts there). When another process appended in
// between, or too many pairs wait, the entries are read from the file as before; both ways give the same
// run, block for block (audit_test, AuditRunTest).
//
// Stored form of object_ids. Since file version 4 a packed blob (common/packed_ids.h: 17 bytes for a STIX id
// instead of about 50 bytes of JSON); entries from before keep their JSON text, and every reader here (ReadEntry,
// the indexer reading entries back, List's concord_names_object for entries past the mark) and in
// store/migrate.cc tells the two apart by the first byte. Under lists of 100 this took the file's growth (and
// its WAL, and the checkpoints' copying) from about 5.9 to 2.6 KB per audited list (docs/benchmarks.md,
// session 8).
//
// Thread-safety: every call is safe from several threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "audit/audit.h"
#include "common/log.h"
#include "store/sqlite/connection.h"

namespace concord::audit {

class SqliteAuditLog final : public AuditLog {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteAuditLog>> Create(const std::string& path,
                                                                              const Options& options = {});
  ~SqliteAuditLog() override;

  void AppendAsync(std::vector<Event> events, AppendCallback done) override;
  absl::StatusOr<Page> List(const Filter& filter) override;
  absl::StatusOr<Head> GetHead() override;
  absl::StatusOr<Verification> Verify(const VerifyOptions& options) override;

  // Registers the SQL functions the log's queries use on a connection to its file: concord_names_object(object_ids,
  // id), concord_block_json(pairs, run) (an index block as JSON text, whichever form it is stored in) and
  // concord_block_seqs(pairs, run, key) (the JSON array of one key's seqs in a block).
  [[nodiscard]] static absl::Status AddSqlFunctions(struct sqlite3* db);
  // A block of the object index as JSON text {"key": [seq, …], …}, from either stored form: JSON text (files before
  // version 5) as it is, the packed form decoded with the run it belongs to. InvalidArgument, naming the run and
  // the byte, for a packed block that does not decode.
  [[nodiscard]] static absl::StatusOr<std::string> BlockJson(std::string_view stored, int64_t run);
  // Calls visit(key, seqs) for each key of a block, in either stored form, keys and seqs ascending; with `only`,
  // for that key alone (if the block has it), the others skipped undecoded where the form allows.
  [[nodiscard]] static absl::Status ForEachKey(
      std::string_view stored, int64_t run,
      absl::FunctionRef<void(std::string_view key, std::span<const int64_t> seqs)> visit,
      std::optional<std::string_view> only = std::nullopt);

  static constexpr int64_t kMaxRunPairs = 50'000;
  static constexpr size_t kBlockPairs = 128;
  static constexpr size_t kRunChunkBytes = 256 << 10;
  static constexpr int64_t kDeleteChunkBlocks = 256;  // replaced blocks deleted per transaction after a merge
  static constexpr size_t kMaxKeptPairs = 8 * kMaxRunPairs;  // Committed keys kept for the indexer, at most

  // A run prepared by the indexer thread, written by the committer.
  struct PreparedRun {
    struct Block {
      std::string first_id;
      std::string pairs;  // the packed form (file version 5; header, Object index)
    };
    int64_t run = 0;       // the first seq it covers (the mark + 1 when prepared)
    int64_t last_seq = 0;  // the last
    size_t pairs = 0;      // (object id, seq) pairs it holds
    std::vector<Block> blocks;
    size_t written = 0;    // blocks written
    // A merge (PrepareMerge): the blocks keys of the runs it replaces (run .. last_seq), its level, and the key
    // its blocks are stored under. Empty for a level-0 run, whose blocks are stored under its run number.
    std::vector<int64_t> merges;
    int level = 0;
    int64_t blocks_key = 0;
    bool registered = false;  // a merge registered: what is left is deleting the replaced runs' blocks (`merges`)
  };
  // The blocks key of a merged run: negative (level-0 runs' keys are their run numbers), one per level and first
  // seq, so a merge tried again after a crash replaces what the attempt left.
  static constexpr int64_t MergedBlocksKey(int level, int64_t run) { return -((int64_t{level} << 40) + run); }
  static constexpr int kMaxMergeLevel = 3;              // runs of this level are not merged further
  static constexpr size_t kMaxMergeBytes = 32u << 20;   // nor runs whose blocks add up to more than this
  // For tests: the run the indexer would prepare now. kAuto as the indexer does: from the entries this process
  // committed when they continue the mark, else read back from the file; kMemory only from those entries
  // (nullopt when they do not continue the mark); kFile only from the file.
  enum class RunSource { kAuto, kMemory, kFile };
  [[nodiscard]] absl::StatusOr<std::optional<PreparedRun>> PrepareRunForTesting(RunSource source);

 private:
  // One AppendAsync call: its events, their entries once committed, and whom to tell.
  struct Pending {
    std::vector<Event> events;
    std::vector<Entry> entries;
    AppendCallback done;
  };

  SqliteAuditLog(store::sqlite::Connection writer, store::sqlite::Connection reader, const Options& options);
  // Starts the committer and checkpointer threads (read-write logs only).
  absl::Status Start(const std::string& path);

  void CommitLoop();
  void CheckpointLoop(store::sqlite::Connection db);
  // Before each checkpoint: writes out the WAL's whole pages, so that its fsync holds up no commit for long.
  void PrecleanWal();
  static int OnWalCommit(void* self, struct sqlite3* db, const char* name, int frames);

  void IndexLoop(store::sqlite::Connection db);
  // Called by the committer with queue_mu_ held.
  void MaybeAskForRun() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  // Sorts the pairs of the entries past the mark into a run (nullopt: nothing past the mark): from the entries
  // this process committed when they continue the mark (RunFromMemory), else read back from the file.
  absl::StatusOr<std::optional<PreparedRun>> PrepareRun(store::sqlite::Connection& db, RunSource source);
  // The run of the committed entries past `mark` kept in memory; nullopt when they do not continue the mark.
  std::optional<PreparedRun> RunFromMemory(int64_t mark);
  // The oldest Options::merge_fan_in registered runs in a row of one level, merged into one run of the next level
  // (nullopt: none to merge). Runs are merged so that a lookup's seeks, one per run, stay few: a busy node
  // registers dozens of level-0 runs a minute.
  absl::StatusOr<std::optional<PreparedRun>> PrepareMerge(store::sqlite::Connection& db);

  // The index keys of the entries of one group commit (object ids, then the user and organisation keys), kept
  // so that the indexer builds the run of entries this process committed without reading them back and parsing
  // their object_ids again. Immutable once published.
  struct Committed {
    std::string keys;                 // back to back
    std::vector<uint32_t> key_ends;   // where each key ends in `keys`
    std::vector<std::pair<int64_t, uint32_t>> entries;  // (seq, index in key_ends past its last key), seqs ascending
    size_t pairs() const { return key_ends.size(); }
  };
  // Called by the committer after a commit: keeps the batch's keys (committed_).
  void KeepCommitted(const std::vector<Pending>& batch);
  // Writes the run's next chunk in one transaction, and registers the run with its last chunk. Returns
  // whether the run is finished (written, or dropped because another process indexed past it meanwhile).
  absl::StatusOr<bool> WriteRunChunk(PreparedRun& run);

  // Commits the events of `batch` as consecutive entries in one transaction.
  absl::Status Commit(std::vector<Pending>& batch);
  absl::Status CommitInTransaction(std::vector<Pending>& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const Clock& clock_;
  const Options options_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool checkpoint_due_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::condition_variable checkpoint_cv_;
  int wal_fd_ = -1;  // the WAL file, for PrecleanWal (opened before the checkpointer starts, closed after it ends)
  bool run_wanted_ ABSL_GUARDED_BY(queue_mu_) = false;  // the committer asks the indexer for a run
  bool merge_wanted_ ABSL_GUARDED_BY(queue_mu_) = true;  // ... or to look for runs to merge (at start, after each run)
  std::optional<PreparedRun> run_ ABSL_GUARDED_BY(queue_mu_);    // a level-0 run the committer is writing
  std::optional<PreparedRun> merge_ ABSL_GUARDED_BY(queue_mu_);  // a merged run the committer is writing
  // The committer writes the run's next chunk when no append waits, or once this time has come.
  static constexpr std::chrono::milliseconds kRunChunkWait{50};
  std::chrono::steady_clock::time_point run_chunk_due_ ABSL_GUARDED_BY(queue_mu_);
  std::chrono::steady_clock::time_point merge_chunk_due_ ABSL_GUARDED_BY(queue_mu_);
  std::condition_variable index_cv_;

  // Indexer thread only: the runs of the merge PrepareMerge prepares (after a block that does not decode, its run
  // alone), and runs whose merge failed on such a block (a damaged or edited file). Those are not merged again by
  // this process and are reported once: retried after every run, as any failure is, the merge failed each time and
  // held the level-0 runs back a second each (kIndexRetryMicros) while the runs after them went unmerged.
  std::vector<int64_t> merging_runs_;
  std::set<int64_t> unmergeable_runs_;

  std::mutex write_mu_;  // held by the committer thread around each transaction
  store::sqlite::Connection writer_ ABSL_GUARDED_BY(write_mu_);
  store::sqlite::Statement head_ ABSL_GUARDED_BY(write_mu_);
  store::sqlite::Statement insert_ ABSL_GUARDED_BY(write_mu_);
  store::sqlite::Statement insert_block_ ABSL_GUARDED_BY(write_mu_);
  // Committer only: pairs committed by this process since the last run, and when that run was asked for.
  int64_t unindexed_pairs_ = 0;
  int64_t last_run_micros_ = 0;
  // After a failed run preparation the committer asks again only once this time has passed.
  static constexpr int64_t kIndexRetryMicros = 1'000'000;
  int64_t retry_after_micros_ ABSL_GUARDED_BY(queue_mu_) = 0;
  // Failures that retry are reported once a minute, with the count of those in between.
  LogLimiter index_warnings_{std::chrono::minutes(1)};
  LogLimiter checkpoint_warnings_{std::chrono::minutes(1)};
  // The limiters' time is the log's clock (a test's clock moves them too).
  std::chrono::steady_clock::time_point LogTime() const {
    return std::chrono::steady_clock::time_point(std::chrono::microseconds(clock_.Now().UnixMicros()));
  }

  // The committed batches not yet in a run, seqs contiguous (KeepCommitted).
  std::mutex committed_mu_;
  std::deque<std::shared_ptr<const Committed>> committed_ ABSL_GUARDED_BY(committed_mu_);
  size_t committed_pairs_ ABSL_GUARDED_BY(committed_mu_) = 0;
  bool keep_committed_ = false;  // set before the threads start: an indexer runs

  std::mutex read_mu_;
  store::sqlite::Connection reader_ ABSL_GUARDED_BY(read_mu_);
  bool has_blocks_ = true;  // false for a version-1 file opened read-only (no audit_object_blocks yet)
  bool has_run_levels_ = true;  // false for a file before version 5 opened read-only (no level or blocks column)

  std::thread committer_;
  std::thread checkpointer_;
  std::thread indexer_;
};

}  // namespace concord::audit
