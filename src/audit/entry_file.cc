#include "audit/entry_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "common/packed_ids.h"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::audit {
namespace {

constexpr std::string_view kMagic = "concord-audit-1\n";
constexpr std::string_view kIdxMagic{"concord-aidx-1\n\0", 16};
constexpr size_t kHashBytes = 32;
// Offsets read from the .idx file at a time by Scan, and the most a scan's window holds beyond one record.
constexpr size_t kScanOffsets = 4096;
constexpr size_t kScanWindow = 1u << 20;
// The most a repair moves aside as a torn tail: a group commit's records (1,024 entries, a few MB even for lists of
// 1,000). Anything longer is damage, not a torn write, and is left for the operator.
constexpr uint64_t kMaxTornBytes = 64u << 20;

void PutU32(char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutU64(char* at, uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(at[i])) << (8 * i);
  return v;
}
uint64_t GetU64(const char* at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(at[i])) << (8 * i);
  return v;
}

absl::Status Errno(std::string_view what, const std::string& path) {
  const int e = errno;
  const std::string message = fmt::format("{} '{}': {}", what, path, std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(message);
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::UnavailableError(message);
}

// Reads exactly `n` bytes at `offset` (fewer only at the end of the file: the count read is returned).
absl::StatusOr<size_t> ReadAt(int fd, char* out, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Errno("reading", path);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

absl::Status WriteAt(int fd, std::string_view bytes, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("writing", path);
    }
    done += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SizeOf(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errno("reading the size of", path);
  return static_cast<uint64_t>(st.st_size);
}

// Holds an open-file-description write lock on the whole file while it lives (fcntl F_OFD_SETLKW).
class FileLock {
 public:
  static absl::StatusOr<FileLock> Take(int fd, const std::string& path) {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    while (::fcntl(fd, F_OFD_SETLKW, &lock) != 0) {
      if (errno != EINTR) return Errno("locking", path);
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ < 0) return;
    struct flock lock {};
    lock.l_type = F_UNLCK;
    lock.l_whence = SEEK_SET;
    (void)::fcntl(fd_, F_OFD_SETLK, &lock);
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

absl::Status Malformed(size_t at, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("entry record: {} at byte {}: {}", field, at, why));
}

// The seq a body starts with (after the kind byte), if it is one.
std::optional<int64_t> BodySeq(std::string_view head) {
  if (head.empty() || head[0] != kEntryRecordKind) return std::nullopt;
  size_t at = 1;
  uint64_t seq = 0;
  if (!ReadLeb128(head, at, seq) || seq > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(seq);
}

// Where the record of `seq` at `pos` ends, when a whole one is there in a file of `size` bytes (both sizes agree,
// and the body starts with the kind and that seq); nullopt otherwise. Framing only: an altered body with intact
// framing is the verifier's to report, not the repair's to cut.
absl::StatusOr<std::optional<uint64_t>> FramedEnd(int fd, const std::string& path, uint64_t pos, uint64_t size,
                                                 int64_t seq) {
  if (pos < kEntryFileHeaderBytes || size < pos || size - pos < 8) return std::nullopt;
  std::array<char, 4 + 11> head{};
  CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(fd, head.data(), head.size(), pos, path));
  const uint32_t body = GetU32(head.data());
  if (body == 0 || body > kMaxEntryRecordBytes || size - pos - 8 < body) return std::nullopt;
  const std::optional<int64_t> found = BodySeq(std::string_view(head.data() + 4, std::min<size_t>(got - 4, body)));
  if (!found || *found != seq) return std::nullopt;
  std::array<char, 4> tail{};
  CONCORD_ASSIGN_OR_RETURN(size_t tail_got, ReadAt(fd, tail.data(), 4, pos + 4 + body, path));
  if (tail_got != 4 || GetU32(tail.data()) != body) return std::nullopt;
  return pos + 8 + body;
}

// Copies bytes [from, size) of the entry file to a file of their own beside it, named by the offset, never over
// an earlier one.
absl::StatusOr<std::string> KeepTorn(int fd, const std::string& path, uint64_t from, uint64_t size) {
  std::string bytes(size - from, '\0');
  CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(fd, bytes.data(), bytes.size(), from, path));
  bytes.resize(got);
  for (int attempt = 1;; ++attempt) {
    std::string torn = fmt::format("{}.torn-{}", path, from);
    if (attempt > 1) torn += fmt::format("-{}", attempt);
    const int out = ::open(torn.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
      if (errno == EEXIST && attempt < 1000) continue;
      return Errno("creating", torn);
    }
    absl::Status written = WriteAt(out, bytes, 0, torn);
    if (written.ok() && ::fsync(out) != 0) written = Errno("syncing", torn);
    ::close(out);
    if (!written.ok()) return written;
    return torn;
  }
}

absl::Status CheckHeader(int fd, const std::string& path, std::string_view magic, int64_t& first_seq) {
  std::array<char, kEntryFileHeaderBytes> header{};
  CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(fd, header.data(), header.size(), 0, path));
  if (got != header.size() || std::string_view(header.data(), magic.size()) != magic) {
    return absl::FailedPreconditionError(fmt::format("'{}' is not a Concord audit entry file{}", path,
                                                     magic == kIdxMagic ? " index" : ""));
  }
  const uint64_t first = GetU64(header.data() + 16);
  if (first < 1 || first > static_cast<uint64_t>(INT64_MAX)) {
    return absl::FailedPreconditionError(fmt::format("'{}': first seq {} is not valid", path, first));
  }
  first_seq = static_cast<int64_t>(first);
  return absl::OkStatus();
}

// Makes a file's creation durable (best effort: the entries' own fdatasync is what callers rely on).
void SyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

std::string Header(std::string_view magic, int64_t first_seq) {
  std::string header(kEntryFileHeaderBytes, '\0');
  header.replace(0, magic.size(), magic);
  PutU64(header.data() + 16, static_cast<uint64_t>(first_seq));
  return header;
}

}  // namespace

absl::Status AppendEntryRecord(std::string& out, const StoredRecord& r) {
  if (r.prev_hash.size() != kHashBytes || r.hash.size() != kHashBytes) {
    return absl::InvalidArgumentError(fmt::format("entry {}: prev_hash and hash must be 32 bytes", r.seq));
  }
  if (r.seq < 1 || r.time_us < 0) {
    return absl::InvalidArgumentError(fmt::format("entry {}: seq must be positive and time_us not negative", r.seq));
  }
  const size_t start = out.size();
  out.append(4, '\0');
  out.push_back(kEntryRecordKind);
  AppendLeb128(out, static_cast<uint64_t>(r.seq));
  AppendLeb128(out, static_cast<uint64_t>(r.time_us));
  for (std::string_view s : {r.action, r.user, r.org, r.key_id, r.object_ids, r.outcome, r.justification,
                             r.remote_address, r.detail}) {
    AppendLeb128(out, s.size());
    out.append(s);
  }
  out.append(r.prev_hash);
  out.append(r.hash);
  const size_t body = out.size() - start - 4;
  if (body > kMaxEntryRecordBytes) {
    out.resize(start);
    return absl::InvalidArgumentError(
        fmt::format("entry {}: {} bytes, more than an entry record holds ({})", r.seq, body, kMaxEntryRecordBytes));
  }
  PutU32(out.data() + start, static_cast<uint32_t>(body));
  out.append(4, '\0');
  PutU32(out.data() + out.size() - 4, static_cast<uint32_t>(body));
  return absl::OkStatus();
}

absl::StatusOr<StoredRecord> DecodeEntryBody(std::string_view body) {
  if (body.empty() || body[0] != kEntryRecordKind) return Malformed(0, "kind", "not 0x01");
  size_t at = 1;
  StoredRecord r;
  // LEB128 numbers in their shortest form only, so that a body has one form (AppendEntryRecord writes it back).
  auto leb = [&](std::string_view field, uint64_t& n) -> absl::Status {
    const size_t from = at;
    if (!ReadLeb128(body, at, n)) return Malformed(from, field, "truncated or over-long number");
    if (at - from > 1 && body[at - 1] == 0) return Malformed(from, field, "a number not in its shortest form");
    return absl::OkStatus();
  };
  auto number = [&](std::string_view field, int64_t& value) -> absl::Status {
    const size_t from = at;
    uint64_t n = 0;
    CONCORD_RETURN_IF_ERROR(leb(field, n));
    if (n > static_cast<uint64_t>(INT64_MAX)) return Malformed(from, field, "beyond 2^63");
    value = static_cast<int64_t>(n);
    return absl::OkStatus();
  };
  CONCORD_RETURN_IF_ERROR(number("seq", r.seq));
  CONCORD_RETURN_IF_ERROR(number("time_us", r.time_us));
  const std::pair<std::string_view, std::string_view*> fields[] = {
      {"action", &r.action},
      {"user", &r.user},
      {"org", &r.org},
      {"key_id", &r.key_id},
      {"object_ids", &r.object_ids},
      {"outcome", &r.outcome},
      {"justification", &r.justification},
      {"remote_address", &r.remote_address},
      {"detail", &r.detail},
  };
  for (const auto& [name, field] : fields) {
    const size_t from = at;
    uint64_t length = 0;
    CONCORD_RETURN_IF_ERROR(leb(name, length));
    if (length > body.size() - at) return Malformed(from, name, fmt::format("length {} runs past the record", length));
    *field = body.substr(at, length);
    at += length;
  }
  if (body.size() - at != 2 * kHashBytes) {
    return Malformed(at, "prev_hash and hash", fmt::format("{} bytes left, expected 64", body.size() - at));
  }
  r.prev_hash = body.substr(at, kHashBytes);
  r.hash = body.substr(at + kHashBytes, kHashBytes);
  return r;
}

std::string HashHex(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) {
    const auto b = static_cast<uint8_t>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

absl::StatusOr<std::string> HashBytes(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() != 2 * kHashBytes) {
    return absl::InvalidArgumentError(fmt::format("a hash is 64 lower-case hex digits, got {} characters", hex.size()));
  }
  std::string raw(kHashBytes, '\0');
  for (size_t i = 0; i < kHashBytes; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError(fmt::format("a hash is 64 lower-case hex digits: '{}'", hex));
    raw[i] = static_cast<char>((hi << 4) | lo);
  }
  return raw;
}

absl::StatusOr<std::unique_ptr<EntryFile>> EntryFile::Open(const std::string& path, const Options& options) {
  auto file = std::unique_ptr<EntryFile>(new EntryFile(path, options));
  const int flags = options.read_only ? O_RDONLY : O_RDWR | O_CREAT;
  const std::string idx_path = path + ".idx";
  file->fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (file->fd_ < 0) return Errno("opening the audit entry file", path);
  file->idx_fd_ = ::open(idx_path.c_str(), flags | O_CLOEXEC, 0600);
  if (file->idx_fd_ < 0) return Errno("opening the audit entry file index", idx_path);
  if (options.read_only) {
    CONCORD_RETURN_IF_ERROR(CheckHeader(file->fd_, path, kMagic, file->first_seq_));
    int64_t idx_first = 0;
    CONCORD_RETURN_IF_ERROR(CheckHeader(file->idx_fd_, idx_path, kIdxMagic, idx_first));
    if (idx_first != file->first_seq_) {
      return absl::FailedPreconditionError(
          fmt::format("'{}' starts at entry {}, its index at {}", path, file->first_seq_, idx_first));
    }
    return file;
  }
  if (options.first_seq < 1) return absl::InvalidArgumentError("the first seq of an entry file is at least 1");
  std::lock_guard guard(file->mu_);
  CONCORD_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(file->fd_, path));
  CONCORD_ASSIGN_OR_RETURN(uint64_t size, SizeOf(file->fd_, path));
  if (size < kEntryFileHeaderBytes) {
    // New, or created by an open that died before its header was whole (what is there is a prefix of it).
    const std::string header = Header(kMagic, options.first_seq);
    std::string present(size, '\0');
    CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(file->fd_, present.data(), present.size(), 0, path));
    if (got != size || std::string_view(header).substr(0, std::min(size_t{16}, present.size())) !=
                           std::string_view(present).substr(0, std::min(size_t{16}, present.size()))) {
      return absl::FailedPreconditionError(fmt::format("'{}' is not a Concord audit entry file", path));
    }
    if (::ftruncate(file->fd_, 0) != 0) return Errno("truncating", path);
    CONCORD_RETURN_IF_ERROR(WriteAt(file->fd_, header, 0, path));
    if (::fsync(file->fd_) != 0) return Errno("syncing", path);
    SyncDirectoryOf(path);
  }
  CONCORD_RETURN_IF_ERROR(CheckHeader(file->fd_, path, kMagic, file->first_seq_));
  CONCORD_ASSIGN_OR_RETURN(uint64_t idx_size, SizeOf(file->idx_fd_, idx_path));
  if (idx_size < kEntryFileHeaderBytes) {
    // Created, or cut short by a crash before its header was whole: derived data, rebuilt from the entry file.
    if (::ftruncate(file->idx_fd_, 0) != 0) return Errno("truncating", idx_path);
    CONCORD_RETURN_IF_ERROR(WriteAt(file->idx_fd_, Header(kIdxMagic, file->first_seq_), 0, idx_path));
  }
  int64_t idx_first = 0;
  CONCORD_RETURN_IF_ERROR(CheckHeader(file->idx_fd_, idx_path, kIdxMagic, idx_first));
  if (idx_first != file->first_seq_) {
    return absl::FailedPreconditionError(
        fmt::format("'{}' starts at entry {}, its index at {}", path, file->first_seq_, idx_first));
  }
  file->end_ = 0;  // unknown: Refresh reads everything anew
  CONCORD_RETURN_IF_ERROR(file->Refresh());
  return file;
}

EntryFile::~EntryFile() {
  if (fd_ >= 0) ::close(fd_);
  if (idx_fd_ >= 0) ::close(idx_fd_);
}

absl::Status EntryFile::Refresh() {
  const std::string idx_path = path_ + ".idx";
  CONCORD_ASSIGN_OR_RETURN(const uint64_t size, SizeOf(fd_, path_));
  CONCORD_ASSIGN_OR_RETURN(const uint64_t idx_size, SizeOf(idx_fd_, idx_path));
  if (end_ != 0 && size == end_ && idx_size == idx_end_) return absl::OkStatus();  // as this process left them
  Repair repair;
  // The offsets that name whole records of their seq: the last ones may not (written before a crash cut the
  // entry file short, or a torn write of the .idx itself).
  auto n = static_cast<int64_t>((std::max<uint64_t>(idx_size, kEntryFileHeaderBytes) - kEntryFileHeaderBytes) / 8);
  uint64_t pos = kEntryFileHeaderBytes;
  while (n > 0) {
    std::array<char, 8> offset{};
    CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(idx_fd_, offset.data(), 8, kEntryFileHeaderBytes + 8 * static_cast<uint64_t>(n - 1), idx_path));
    if (got == 8) {
      CONCORD_ASSIGN_OR_RETURN(std::optional<uint64_t> end, FramedEnd(fd_, path_, GetU64(offset.data()), size, first_seq_ + n - 1));
      if (end) {
        pos = *end;
        break;
      }
    }
    --n;
    ++repair.offsets_dropped;
  }
  // Whole records past the last offset (a process that died between its two writes): their offsets are added.
  std::string added;
  for (;;) {
    CONCORD_ASSIGN_OR_RETURN(std::optional<uint64_t> end, FramedEnd(fd_, path_, pos, size, first_seq_ + n + repair.offsets_added));
    if (!end) break;
    added.append(8, '\0');
    PutU64(added.data() + added.size() - 8, pos);
    ++repair.offsets_added;
    pos = *end;
  }
  if (pos < size && size - pos > kMaxTornBytes) {
    // More than a write cut short leaves: damage inside the file (with the offsets lost, a damaged record makes
    // everything after it look torn). Nothing is cut; the operator looks (concord audit verify names the entry).
    return absl::FailedPreconditionError(fmt::format(
        "'{}': the {} bytes after entry {} (from byte {}) are not whole records, more than a crash leaves; nothing "
        "was changed: restore the file or move those bytes aside by hand",
        path_, size - pos, first_seq_ + n - 1, pos));
  }
  if (pos < size) {
    // A torn last record: never acknowledged (its append had not returned), kept aside all the same.
    CONCORD_ASSIGN_OR_RETURN(repair.torn_path, KeepTorn(fd_, path_, pos, size));
    repair.torn_bytes = static_cast<int64_t>(size - pos);
    if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0) return Errno("truncating", path_);
    if (::fdatasync(fd_) != 0) return Errno("syncing", path_);
  }
  const uint64_t idx_keep = kEntryFileHeaderBytes + 8 * static_cast<uint64_t>(n);
  if (idx_keep != idx_size || !added.empty()) {
    if (::ftruncate(idx_fd_, static_cast<off_t>(idx_keep)) != 0) return Errno("truncating", idx_path);
    CONCORD_RETURN_IF_ERROR(WriteAt(idx_fd_, added, idx_keep, idx_path));
  }
  n += repair.offsets_added;
  end_ = pos;
  idx_end_ = kEntryFileHeaderBytes + 8 * static_cast<uint64_t>(n);
  last_seq_ = first_seq_ + n - 1;
  last_hash_.clear();
  if (n > 0) {
    // The last 32 bytes of the last body, whatever the rest of it holds: an entry altered in place is the
    // verifier's to report, and the chain goes on from the hash it stores.
    last_hash_.resize(kHashBytes);
    CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(fd_, last_hash_.data(), kHashBytes, pos - 4 - kHashBytes, path_));
    if (got != kHashBytes) return absl::DataLossError(fmt::format("'{}': the last entry's hash is cut short", path_));
  }
  if (repair.offsets_added != 0 || repair.offsets_dropped != 0 || repair.torn_bytes != 0) repair_ = std::move(repair);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EntryFile::LastSeq() const {
  CONCORD_ASSIGN_OR_RETURN(uint64_t idx_size, SizeOf(idx_fd_, path_ + ".idx"));
  if (idx_size < kEntryFileHeaderBytes) return first_seq_ - 1;
  return first_seq_ - 1 + static_cast<int64_t>((idx_size - kEntryFileHeaderBytes) / 8);
}

EntryFile::Repair EntryFile::last_repair() const {
  std::lock_guard guard(mu_);
  return repair_;
}

absl::Status EntryFile::Append(Build build) {
  if (options_.read_only) return absl::FailedPreconditionError(fmt::format("'{}' is open read-only", path_));
  std::lock_guard guard(mu_);
  CONCORD_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(fd_, path_));
  CONCORD_RETURN_IF_ERROR(Refresh());
  // Kept between appends (capacity and all): a group commit of lists of 100 is ~10 KB, built by appending.
  std::string& records = records_;
  records.clear();
  CONCORD_ASSIGN_OR_RETURN(const size_t count, build(last_seq_, last_hash_, records));
  if (count == 0) return absl::OkStatus();
  // The offsets, from the records' framing, which is checked here: a record the builder got wrong would be taken
  // for a torn tail by the next repair.
  std::string offsets(8 * count, '\0');
  size_t at = 0;
  std::string_view last_hash;
  for (size_t i = 0; i < count; ++i) {
    const int64_t seq = last_seq_ + 1 + static_cast<int64_t>(i);
    if (records.size() - at < 8) return absl::InternalError(fmt::format("entry {}: no record built", seq));
    const uint32_t body = GetU32(records.data() + at);
    const std::string_view b = records.size() - at - 8 >= body ? std::string_view(records).substr(at + 4, body) : "";
    if (b.size() < 2 * kHashBytes || GetU32(records.data() + at + 4 + body) != body || BodySeq(b) != seq) {
      return absl::InternalError(fmt::format("entry {}: the record built is not framed as entry {}", seq, seq));
    }
    PutU64(offsets.data() + 8 * i, end_ + at);
    last_hash = b.substr(body - kHashBytes);
    at += 8 + body;
  }
  if (at != records.size()) return absl::InternalError("entry records: bytes past the last record built");
  absl::Status written = WriteAt(fd_, records, end_, path_);
  if (!written.ok()) {
    (void)::ftruncate(fd_, static_cast<off_t>(end_));  // best effort: else the next Refresh keeps it aside
    return written;
  }
  if (options_.sync_each_append && ::fdatasync(fd_) != 0) return Errno("syncing", path_);
  end_ += records.size();
  last_seq_ += static_cast<int64_t>(count);
  last_hash_ = std::string(last_hash);
  if (records_.capacity() > (4u << 20)) std::string().swap(records_);  // not held on to after a large export chunk
  // The entries are in the file; their offsets are derived data, which a failure here leaves to the next Refresh.
  CONCORD_RETURN_IF_ERROR(WriteAt(idx_fd_, offsets, idx_end_, path_ + ".idx"));
  idx_end_ += offsets.size();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EntryFile::OffsetOf(int64_t seq) const {
  CONCORD_ASSIGN_OR_RETURN(int64_t last, LastSeq());
  if (seq < first_seq_ || seq > last) {
    return absl::NotFoundError(fmt::format("entry {} is not in '{}' ({} to {})", seq, path_, first_seq_, last));
  }
  std::array<char, 8> offset{};
  CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(idx_fd_, offset.data(), 8,
                                              kEntryFileHeaderBytes + 8 * static_cast<uint64_t>(seq - first_seq_),
                                              path_ + ".idx"));
  if (got != 8) return absl::DataLossError(fmt::format("entry {}: its offset is cut short", seq));
  return GetU64(offset.data());
}

namespace {

// Reads records at given offsets of an entry file through a window of it.
class RecordReader {
 public:
  // Reads into `window`, `read_ahead` bytes at a time at least (0 for one record: Read; kScanWindow for Scan).
  RecordReader(int fd, const std::string& path, std::string& window, size_t read_ahead)
      : fd_(fd), path_(path), window_(window), read_ahead_(read_ahead) {
    window_.clear();
  }

  // The entry of `seq` at `offset`, its views into the window (valid until the next call); DataLoss naming the
  // entry for anything that is not its record.
  absl::StatusOr<StoredRecord> Record(uint64_t offset, int64_t seq) {
    CONCORD_ASSIGN_OR_RETURN(std::string_view body, Body(offset, seq));
    auto record = DecodeEntryBody(body);
    if (!record.ok()) return absl::DataLossError(fmt::format("entry {}: {}", seq, Sv(record.status().message())));
    return record;
  }

 private:

  // The body of the record of `seq` at `offset` (checked: sizes, seq), valid until the next call.
  absl::StatusOr<std::string_view> Body(uint64_t offset, int64_t seq) {
    CONCORD_ASSIGN_OR_RETURN(std::string_view size, Bytes(offset, 4));
    if (size.size() != 4) return Damaged(seq, offset, "the file ends inside its size");
    const uint32_t body = GetU32(size.data());
    if (body == 0 || body > kMaxEntryRecordBytes) return Damaged(seq, offset, fmt::format("a size of {}", body));
    CONCORD_ASSIGN_OR_RETURN(std::string_view record, Bytes(offset, 8 + static_cast<size_t>(body)));
    if (record.size() != 8 + body) return Damaged(seq, offset, "the file ends inside it");
    if (GetU32(record.data() + 4 + body) != body) return Damaged(seq, offset, "its two sizes differ");
    std::string_view b = record.substr(4, body);
    if (BodySeq(b) != seq) return Damaged(seq, offset, "it holds another seq");
    return b;
  }

  static absl::Status Damaged(int64_t seq, uint64_t offset, std::string_view why) {
    return absl::DataLossError(fmt::format("entry {}: the record at byte {} is damaged: {}", seq, offset, why));
  }
  // `n` bytes at `offset` (fewer at the end of the file), read ahead up to read_ahead_.
  absl::StatusOr<std::string_view> Bytes(uint64_t offset, size_t n) {
    if (offset < start_ || offset + n > start_ + window_.size()) {
      window_.resize(std::max(n, read_ahead_));
      CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(fd_, window_.data(), window_.size(), offset, path_));
      window_.resize(got);
      start_ = offset;
    }
    return std::string_view(window_).substr(offset - start_, std::min(n, window_.size() - (offset - start_)));
  }

  int fd_;
  const std::string& path_;
  std::string& window_;
  const size_t read_ahead_;
  uint64_t start_ = 0;
};

}  // namespace

absl::StatusOr<StoredRecord> EntryFile::Read(int64_t seq, std::string& buffer) const {
  CONCORD_ASSIGN_OR_RETURN(uint64_t offset, OffsetOf(seq));
  return RecordReader(fd_, path_, buffer, 0).Record(offset, seq);
}

absl::Status EntryFile::Scan(int64_t from, int64_t to, Visit visit) const {
  CONCORD_ASSIGN_OR_RETURN(int64_t last, LastSeq());
  from = std::max(from, first_seq_);
  to = std::min(to, last);
  std::string window;
  RecordReader reader(fd_, path_, window, kScanWindow);
  std::string offsets;
  for (int64_t seq = from; seq <= to;) {
    const auto batch = static_cast<size_t>(std::min<int64_t>(to - seq + 1, static_cast<int64_t>(kScanOffsets)));
    offsets.resize(8 * batch);
    CONCORD_ASSIGN_OR_RETURN(size_t got, ReadAt(idx_fd_, offsets.data(), offsets.size(),
                                                kEntryFileHeaderBytes + 8 * static_cast<uint64_t>(seq - first_seq_),
                                                path_ + ".idx"));
    if (got != offsets.size()) return absl::DataLossError(fmt::format("entry {}: its offset is cut short", seq));
    for (size_t i = 0; i < batch; ++i, ++seq) {
      CONCORD_ASSIGN_OR_RETURN(bool more, visit(seq, reader.Record(GetU64(offsets.data() + 8 * i), seq)));
      if (!more) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status EntryFile::Sync() {
  if (::fdatasync(fd_) != 0) return Errno("syncing", path_);
  if (!options_.read_only && ::fdatasync(idx_fd_) != 0) return Errno("syncing", path_ + ".idx");
  return absl::OkStatus();
}

}  // namespace concord::audit
