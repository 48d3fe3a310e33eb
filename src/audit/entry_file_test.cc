// The audit entry file (entry_file.h): its record form byte for byte, appends from several handles and processes
// extending one chain, and the repair of what a crash leaves at the tail.
#include "audit/entry_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/packed_ids.h"
#include "fmt/format.h"

namespace concord::audit {
namespace {

// A record's fields, owning their bytes.
struct Fields {
  int64_t seq = 1;
  int64_t time_us = 1'700'000'000'000'000;
  std::string action = "read", user = "alice", org = "identity--o", key_id = "k1";
  std::string object_ids = PackIds(std::vector<std::string>{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"});
  std::string outcome = "ok", justification, remote_address = "127.0.0.1";
  std::string detail = R"({"method":"GET","route":"/api/v1/objects/{id}"})";
  std::string prev_hash = std::string(32, '\0');
  std::string hash = std::string(32, '\x11');
  StoredRecord View() const {
    return StoredRecord{seq, time_us, action, user, org, key_id, object_ids, outcome, justification, remote_address,
                        detail, prev_hash, hash};
  }
};

std::string Hex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
  return out;
}

TEST(EntryRecord, HasThisExactForm) {
  Fields f;
  f.seq = 300;  // two LEB128 bytes
  f.time_us = 5;
  f.action = "read";
  f.user = "u";
  f.org = "";
  f.key_id = "";
  f.object_ids = "\x01";
  f.outcome = "ok";
  f.remote_address = "";
  f.detail = "{}";
  f.prev_hash = std::string(32, '\xaa');
  f.hash = std::string(32, '\xbb');
  std::string out = "x";  // appended after what is there
  ASSERT_TRUE(AppendEntryRecord(out, f.View()).ok());
  const std::string body = "01" "ac02" "05" "0472656164" "0175" "00" "00" "0101" "026f6b" "00" "00" "027b7d" +
                           std::string(64, 'a') + std::string(64, 'b');
  const std::string size = fmt::format("{:02x}000000", body.size() / 2);
  EXPECT_EQ(Hex(out), "78" + size + body + size);
}

TEST(EntryRecord, RoundTrips) {
  Fields f;
  f.justification = "case 2026/117 \xe2\x80\x94 urgent";
  std::string out;
  ASSERT_TRUE(AppendEntryRecord(out, f.View()).ok());
  auto r = DecodeEntryBody(std::string_view(out).substr(4, out.size() - 8));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->seq, f.seq);
  EXPECT_EQ(r->time_us, f.time_us);
  EXPECT_EQ(r->action, f.action);
  EXPECT_EQ(r->user, f.user);
  EXPECT_EQ(r->org, f.org);
  EXPECT_EQ(r->key_id, f.key_id);
  EXPECT_EQ(r->object_ids, f.object_ids);
  EXPECT_EQ(r->outcome, f.outcome);
  EXPECT_EQ(r->justification, f.justification);
  EXPECT_EQ(r->remote_address, f.remote_address);
  EXPECT_EQ(r->detail, f.detail);
  EXPECT_EQ(r->prev_hash, f.prev_hash);
  EXPECT_EQ(r->hash, f.hash);
}

TEST(EntryRecord, RefusesWhatIsNotTheFormExactly) {
  Fields f;
  std::string out;
  ASSERT_TRUE(AppendEntryRecord(out, f.View()).ok());
  const std::string body = out.substr(4, out.size() - 8);
  // Every truncation fails, naming a field.
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = DecodeEntryBody(std::string_view(body).substr(0, n));
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(DecodeEntryBody(body + "z").status().message(),
            "entry record: prev_hash and hash at byte " + std::to_string(body.size() - 64) + ": 65 bytes left, expected 64");
  std::string kind = body;
  kind[0] = '\x02';
  EXPECT_EQ(DecodeEntryBody(kind).status().message(), "entry record: kind at byte 0: not 0x01");
  // The action's length (byte 1 + seq + time) made to run past the record.
  std::string action = body;
  size_t at = 1;
  uint64_t n = 0;
  ASSERT_TRUE(ReadLeb128(body, at, n));
  ASSERT_TRUE(ReadLeb128(body, at, n));
  action.replace(at, 1, "\xff\x7f");
  EXPECT_EQ(DecodeEntryBody(action).status().message(),
            fmt::format("entry record: action at byte {}: length 16383 runs past the record", at));
  Fields bad;
  bad.hash = "short";
  EXPECT_EQ(AppendEntryRecord(out, bad.View()).message(), "entry 1: prev_hash and hash must be 32 bytes");
  bad = Fields();
  bad.seq = 0;
  EXPECT_EQ(AppendEntryRecord(out, bad.View()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(EntryRecord, HashHexRoundTrips) {
  const std::string hex = Sha256Hex("abc");
  auto raw = HashBytes(hex);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_EQ(HashHex(*raw), hex);
  EXPECT_EQ(HashBytes(std::string(64, 'A')).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashBytes("00").status().code(), absl::StatusCode::kInvalidArgument);
}

class EntryFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("entry_file_test.{}.{}", getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "node.audit.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<EntryFile> Open(EntryFile::Options options = {}) {
    auto file = EntryFile::Open(path_, options);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *std::move(file) : nullptr;
  }

  // Appends `count` entries chained on the head the file gives; each hash is the SHA-256 of its seq and the
  // previous hash, so that a test can tell every entry and its place.
  static absl::Status AppendChained(EntryFile& file, size_t count, const std::string& user = "alice") {
    return file.Append([&](int64_t last_seq, std::string_view last_hash, std::string& records) -> absl::StatusOr<size_t> {
      std::string prev = last_hash.empty() ? std::string(32, '\0') : std::string(last_hash);
      for (size_t i = 0; i < count; ++i) {
        Fields f;
        f.seq = last_seq + 1 + static_cast<int64_t>(i);
        f.user = user;
        f.prev_hash = prev;
        f.hash = *HashBytes(Sha256Hex(fmt::format("{}:{}", f.seq, Hex(prev))));
        if (auto s = AppendEntryRecord(records, f.View()); !s.ok()) return s;
        prev = f.hash;
      }
      return count;
    });
  }

  // Reads every entry and checks the chain: seqs from 1 without gaps, each prev_hash the hash before.
  static void ExpectChain(const EntryFile& file, int64_t entries) {
    int64_t expected = 1;
    std::string prev(32, '\0');
    ASSERT_TRUE(file.Scan(1, INT64_MAX, [&](int64_t seq, const absl::StatusOr<StoredRecord>& r) -> absl::StatusOr<bool> {
                      EXPECT_TRUE(r.ok()) << r.status();
                      if (!r.ok()) return false;
                      EXPECT_EQ(seq, expected);
                      EXPECT_EQ(r->seq, expected);
                      EXPECT_EQ(Hex(r->prev_hash), Hex(prev)) << seq;
                      EXPECT_EQ(Hex(r->hash), Sha256Hex(fmt::format("{}:{}", seq, Hex(prev)))) << seq;
                      prev = std::string(r->hash);
                      ++expected;
                      return true;
                    }).ok());
    EXPECT_EQ(expected - 1, entries);
    EXPECT_EQ(*file.LastSeq(), entries);
  }

  uint64_t Size(const std::string& p) const { return std::filesystem::file_size(p); }
  std::string Bytes(const std::string& p) const {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void AppendBytes(const std::string& p, std::string_view bytes) const {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(EntryFileTest, AppendsReadsAndScans) {
  auto file = Open();
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(*file->LastSeq(), 0);
  int64_t seen_last = -1;
  std::string seen_hash = "unset";
  ASSERT_TRUE(file->Append([&](int64_t last, std::string_view hash, std::string&) -> absl::StatusOr<size_t> {
                    seen_last = last;
                    seen_hash = std::string(hash);
                    return 0;  // nothing
                  }).ok());
  EXPECT_EQ(seen_last, 0);
  EXPECT_EQ(seen_hash, "");
  EXPECT_EQ(Size(path_), kEntryFileHeaderBytes);
  ASSERT_TRUE(AppendChained(*file, 3).ok());
  ASSERT_TRUE(AppendChained(*file, 2, "bob").ok());
  ExpectChain(*file, 5);
  std::string buffer;
  auto r = file->Read(4, buffer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->seq, 4);
  EXPECT_EQ(r->user, "bob");
  EXPECT_EQ(file->Read(6, buffer).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(file->Read(0, buffer).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Size(path_ + ".idx"), kEntryFileHeaderBytes + 5 * 8);
  // A scan stops when told, and clips its range.
  std::vector<int64_t> seqs;
  ASSERT_TRUE(file->Scan(2, 99, [&](int64_t seq, const absl::StatusOr<StoredRecord>&) -> absl::StatusOr<bool> {
                    seqs.push_back(seq);
                    return seq < 4;
                  }).ok());
  EXPECT_EQ(seqs, (std::vector<int64_t>{2, 3, 4}));
  // Read-only, another handle sees the same.
  auto reader = Open({.read_only = true});
  ASSERT_NE(reader, nullptr);
  ExpectChain(*reader, 5);
  EXPECT_EQ(reader->Append([](int64_t, std::string_view, std::string&) -> absl::StatusOr<size_t> { return 0; }).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(file->last_repair().torn_bytes, 0);
  EXPECT_EQ(file->last_repair().offsets_added, 0);
}

TEST_F(EntryFileTest, ReopenedItGoesOnFromItsHead) {
  ASSERT_TRUE(AppendChained(*Open(), 3).ok());
  auto file = Open();
  ASSERT_TRUE(AppendChained(*file, 2).ok());
  ExpectChain(*file, 5);
  EXPECT_EQ(file->first_seq(), 1);
}

TEST_F(EntryFileTest, StartsAtTheFirstSeqItWasCreatedWith) {
  auto file = Open({.first_seq = 1001});
  ASSERT_TRUE(file->Append([](int64_t last, std::string_view hash, std::string& records) -> absl::StatusOr<size_t> {
                    EXPECT_EQ(last, 1000);
                    EXPECT_EQ(hash, "");
                    Fields f;
                    f.seq = last + 1;
                    if (auto s = AppendEntryRecord(records, f.View()); !s.ok()) return s;
                    return 1;
                  }).ok());
  std::string buffer;
  EXPECT_EQ(file->Read(1001, buffer)->seq, 1001);
  EXPECT_EQ(file->Read(1000, buffer).status().code(), absl::StatusCode::kNotFound);
  // An existing file keeps its own first seq.
  EXPECT_EQ(Open({.first_seq = 5})->first_seq(), 1001);
}

TEST_F(EntryFileTest, HandlesAppendingTogetherExtendOneChain) {
  // Two handles are two open file descriptions: their locks exclude each other as two processes' would.
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(AppendChained(*a, 2).ok());
  ASSERT_TRUE(AppendChained(*b, 1).ok());  // b's head is a's last entry, re-read under the lock
  ASSERT_TRUE(AppendChained(*a, 1).ok());  // and a's is b's
  ExpectChain(*a, 4);
  std::vector<std::thread> threads;
  for (EntryFile* f : {a.get(), b.get()}) {
    threads.emplace_back([f] {
      for (int i = 0; i < 300; ++i) ASSERT_TRUE(AppendChained(*f, 1 + i % 3).ok());
    });
  }
  for (auto& t : threads) t.join();
  ExpectChain(*b, 4 + 2 * (100 * (1 + 2 + 3)));
}

TEST_F(EntryFileTest, ProcessesAppendingTogetherExtendOneChain) {
  ASSERT_TRUE(AppendChained(*Open(), 1).ok());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto file = EntryFile::Open(path_, {});
    bool ok = file.ok();
    for (int i = 0; ok && i < 200; ++i) ok = AppendChained(**file, 2, "child").ok();
    _exit(ok ? 0 : 1);
  }
  auto file = Open();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(AppendChained(*file, 1, "parent").ok());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ExpectChain(*file, 1 + 400 + 200);
}

TEST_F(EntryFileTest, ATornLastRecordIsKeptAsideAndCut) {
  ASSERT_TRUE(AppendChained(*Open(), 3).ok());
  const uint64_t whole = Size(path_);
  // What a write cut short by a crash leaves: the start of entry 4's record.
  std::string record;
  Fields f;
  f.seq = 4;
  ASSERT_TRUE(AppendEntryRecord(record, f.View()).ok());
  const std::string torn = record.substr(0, record.size() - 10);
  AppendBytes(path_, torn);
  auto file = Open();
  EXPECT_EQ(Size(path_), whole);
  const EntryFile::Repair repair = file->last_repair();
  EXPECT_EQ(repair.torn_bytes, static_cast<int64_t>(torn.size()));
  EXPECT_EQ(repair.torn_path, fmt::format("{}.torn-{}", path_, whole));
  EXPECT_EQ(Bytes(repair.torn_path), torn);
  ASSERT_TRUE(AppendChained(*file, 2).ok());
  ExpectChain(*file, 5);
  // A second tear at the same offset does not overwrite the first one kept.
  file.reset();
  std::filesystem::resize_file(path_, whole);
  std::filesystem::resize_file(path_ + ".idx", kEntryFileHeaderBytes + 3 * 8);
  AppendBytes(path_, "\x09\x00");
  file = Open();
  EXPECT_EQ(file->last_repair().torn_path, fmt::format("{}.torn-{}-2", path_, whole));
  EXPECT_EQ(Bytes(fmt::format("{}.torn-{}", path_, whole)), torn);
  ExpectChain(*file, 3);
}

TEST_F(EntryFileTest, ATornTailIsRepairedByTheNextAppendOfAnotherHandle) {
  auto a = Open();
  ASSERT_TRUE(AppendChained(*a, 2).ok());
  const uint64_t whole = Size(path_);
  AppendBytes(path_, std::string("\x40\x00\x00\x00\x01\x03", 6));  // another process died mid-write
  ASSERT_TRUE(AppendChained(*a, 1).ok());
  EXPECT_EQ(a->last_repair().torn_bytes, 6);
  EXPECT_EQ(a->last_repair().torn_path, fmt::format("{}.torn-{}", path_, whole));
  ExpectChain(*a, 3);
}

TEST_F(EntryFileTest, OffsetsMissingOrWrongAreRebuiltFromTheEntries) {
  ASSERT_TRUE(AppendChained(*Open(), 4).ok());
  const std::string idx = path_ + ".idx";
  const std::string offsets = Bytes(idx);
  // A process died after writing its records and before their offsets: the entries are whole, so they stay.
  std::filesystem::resize_file(idx, kEntryFileHeaderBytes + 8);
  {
    auto file = Open();
    EXPECT_EQ(file->last_repair().offsets_added, 3);
    EXPECT_EQ(file->last_repair().torn_bytes, 0);
    ExpectChain(*file, 4);
  }
  EXPECT_EQ(Bytes(idx), offsets);
  // Offsets naming no record of their seq (the entry file cut short after them) are dropped.
  AppendBytes(idx, std::string("\x20\x00\x00\x00\x00\x00\x00\x00" "\xff\xff\x00\x00\x00\x00\x00\x00", 16));
  AppendBytes(idx, "\x01\x02\x03");  // and a torn offset
  {
    auto file = Open();
    EXPECT_EQ(file->last_repair().offsets_dropped, 2);
    ExpectChain(*file, 4);
  }
  EXPECT_EQ(Bytes(idx), offsets);
  // An index cut inside its header is rebuilt whole.
  std::filesystem::resize_file(idx, 7);
  EXPECT_EQ(Open()->last_repair().offsets_added, 4);
  EXPECT_EQ(Bytes(idx), offsets);
}

TEST_F(EntryFileTest, DamageFarFromTheTailIsNeverCutAway) {
  ASSERT_TRUE(AppendChained(*Open(), 2).ok());
  const uint64_t third = Size(path_);  // where entry 3's record starts
  // Entry 3 with 70 MB of detail: with its seq damaged and the offsets lost, everything from entry 3 on looks
  // torn, which is more than a crash leaves.
  {
    auto file = Open();
    ASSERT_TRUE(file->Append([](int64_t last, std::string_view hash, std::string& records) -> absl::StatusOr<size_t> {
                      Fields f;
                      f.seq = last + 1;
                      f.prev_hash = std::string(hash);
                      f.detail = std::string(70u << 20, 'x');
                      if (auto s = AppendEntryRecord(records, f.View()); !s.ok()) return s;
                      return 1;
                    }).ok());
  }
  std::string bytes = Bytes(path_);
  ASSERT_EQ(bytes.substr(third + 4, 2), std::string("\x01\x03", 2));  // its kind and seq
  bytes[third + 5] = '\x09';  // the record now names entry 9
  std::ofstream(path_, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::filesystem::resize_file(path_ + ".idx", kEntryFileHeaderBytes);
  auto opened = EntryFile::Open(path_, {});
  ASSERT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(opened.status().message()).find("are not whole records, more than a crash leaves; nothing was changed"),
            std::string::npos)
      << opened.status();
  EXPECT_EQ(Size(path_), bytes.size());
  EXPECT_FALSE(std::filesystem::exists(fmt::format("{}.torn-{}", path_, third)));
}

TEST_F(EntryFileTest, AFileCutInsideItsHeaderIsStartedAgain) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "concord-au";
  }
  auto file = Open();
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(AppendChained(*file, 1).ok());
  ExpectChain(*file, 1);
}

TEST_F(EntryFileTest, RefusesFilesThatAreNotEntryFiles) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "SQLite format 3" << std::string(100, '\0');
  }
  auto opened = EntryFile::Open(path_, {});
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(opened.status().message(), fmt::format("'{}' is not a Concord audit entry file", path_));
  std::filesystem::remove(path_);
  std::filesystem::remove(path_ + ".idx");
  EXPECT_EQ(EntryFile::Open(path_, {.read_only = true}).status().code(), absl::StatusCode::kNotFound);
  // An index of another file (another first seq).
  Open({.first_seq = 7});
  std::filesystem::remove(path_);
  opened = EntryFile::Open(path_, {});
  EXPECT_EQ(opened.status().message(), fmt::format("'{}' starts at entry 1, its index at 7", path_));
}

TEST_F(EntryFileTest, DamageIsReportedForTheEntryItHits) {
  auto file = Open();
  ASSERT_TRUE(AppendChained(*file, 3).ok());
  std::string buffer;
  const uint64_t second = [&] {
    std::string idx = Bytes(path_ + ".idx");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(idx[kEntryFileHeaderBytes + 8 + i])) << (8 * i);
    return v;
  }();
  std::string bytes = Bytes(path_);
  bytes[second] = '\x07';  // entry 2's leading size
  std::ofstream(path_, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_EQ(file->Read(2, buffer).status().code(), absl::StatusCode::kDataLoss);
  std::vector<std::string> seen;
  ASSERT_TRUE(file->Scan(1, 3, [&](int64_t seq, const absl::StatusOr<StoredRecord>& r) -> absl::StatusOr<bool> {
                    seen.push_back(r.ok() ? fmt::format("{} ok", seq) : std::string(r.status().message()));
                    return true;
                  }).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "1 ok");
  EXPECT_EQ(seen[1], fmt::format("entry 2: the record at byte {} is damaged: its two sizes differ", second));
  EXPECT_EQ(seen[2], "3 ok");
  // An altered body with intact framing reads (the verifier finds it by its hash), and is neither cut nor kept
  // aside by a repair: the chain goes on from the hash it stores.
  bytes = Bytes(path_);
  const size_t user = bytes.rfind("alice");
  bytes[user + 4] = 'f';
  std::ofstream(path_, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file = Open();
  EXPECT_EQ(file->Read(3, buffer)->user, "alicf");
  EXPECT_EQ(file->last_repair().torn_bytes, 0);
  ASSERT_TRUE(AppendChained(*file, 1).ok());
  std::string buffer4;
  EXPECT_EQ(file->Read(4, buffer4)->prev_hash, file->Read(3, buffer)->hash);
}

TEST_F(EntryFileTest, ABuilderErrorWritesNothing) {
  auto file = Open();
  ASSERT_TRUE(AppendChained(*file, 1).ok());
  const uint64_t size = Size(path_);
  EXPECT_EQ(file->Append([](int64_t, std::string_view, std::string& records) -> absl::StatusOr<size_t> {
                  records = "partial";
                  return absl::InvalidArgumentError("detail: no");
                }).message(),
            "detail: no");
  // A record framed for another seq than its place is refused before anything is written.
  EXPECT_EQ(file->Append([](int64_t last, std::string_view, std::string& records) -> absl::StatusOr<size_t> {
                  Fields f;
                  f.seq = last + 2;
                  if (auto s = AppendEntryRecord(records, f.View()); !s.ok()) return s;
                  return 1;
                }).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(Size(path_), size);
  ExpectChain(*file, 1);
}

}  // namespace
}  // namespace concord::audit
