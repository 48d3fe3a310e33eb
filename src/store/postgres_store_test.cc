// PostgreSQL-only behaviour of the store: concurrent openers, error context, lost connections, URI redaction.
// What every backend must do is in store_conformance_test.cc.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "boost/json/serialize.hpp"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/accounts.h"
#include "store/change_listener.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/testing/objects.h"
#include "store/testing/postgres_server.h"

namespace concord::store {
namespace {

using ::testing::StartsWith;
using testing::Indicator;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new testing::PostgresServerEnvironment);

std::string IdOf(int n) { return fmt::format("indicator--{:08x}-0000-4000-8000-000000000000", n); }

using PostgresStoreTest = testing::PostgresDatabaseTest;

TEST(PostgresUri, PasswordsAreRedacted) {
  EXPECT_EQ(postgres::RedactUri("postgresql://concord:s3cret@db.example:5432/concord"),
            "postgresql://concord:***@db.example:5432/concord");
  EXPECT_EQ(postgres::RedactUri("postgresql://concord@db.example/concord"), "postgresql://concord@db.example/concord");
  EXPECT_EQ(postgres::RedactUri("postgresql://db.example:5432/concord"), "postgresql://db.example:5432/concord");
}

TEST(PostgresEncoding, ArrayAndCopyEscapes) {
  const std::vector<std::string> texts = {"a\"b", "c\\d", ""};
  EXPECT_EQ(postgres::TextArray(texts), R"({"a\"b","c\\d",""})");
  const std::vector<std::optional<std::string>> nullable = {std::string("x"), std::nullopt};
  EXPECT_EQ(postgres::TextArray(nullable), R"({"x",NULL})");
  std::string line;
  postgres::AppendCopyText(line, "a\tb\nc\\d\r");
  EXPECT_EQ(line, R"(a\tb\nc\\d\r)");
  // Escapes first, last, one after another, and none at all (appended as one run).
  for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"plain {\"json\": 1}", "plain {\"json\": 1}"}, {"\\\\", R"(\\\\)"}, {"\tx", R"(\tx)"},
           {"x\n", R"(x\n)"}, {"\r\n\t", R"(\r\n\t)"}}) {
    std::string appended = "head|";
    postgres::AppendCopyText(appended, in);
    EXPECT_EQ(appended, "head|" + out) << in;
  }
  const std::array<uint8_t, 2> bytes = {0x0a, 0xff};
  EXPECT_EQ(postgres::ByteaText(bytes), R"(\x0aff)");
}

// Several processes starting at once on an empty database: each migration is applied once, all open.
TEST_F(PostgresStoreTest, ConcurrentOpenersMigrateOnce) {
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  for (int i = 0; i < 6; ++i) {
    openers.emplace_back([&] {
      auto store = OpenStore(uri_);
      EXPECT_TRUE(store.ok()) << store.status();
      if (store.ok()) ++opened;
    });
  }
  for (auto& t : openers) t.join();
  EXPECT_EQ(opened.load(), 6);
  EXPECT_EQ(testing::PgInt(uri_, "SELECT count(*) FROM schema_migrations"), postgres::LatestSchemaVersion());
  EXPECT_EQ(testing::PgInt(uri_, "SELECT count(*) FROM store_meta WHERE name = 'id_hash_key'"), 1);
}

TEST_F(PostgresStoreTest, FailedBatchNamesBackendAndItem) {
  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ(testing::PgExec(uri_, fmt::format("CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                              "IF NEW.id = '{}' THEN RAISE EXCEPTION 'injected fault'; END IF; "
                                              "RETURN NEW; END $$; CREATE TRIGGER fail BEFORE INSERT ON versions "
                                              "FOR EACH ROW EXECUTE FUNCTION fail()",
                                              IdOf(3))),
            "");
  auto put = (*store)->Put(std::vector{Indicator(IdOf(1), "2024-01-02T00:00:00.000Z"),
                                       Indicator(IdOf(1), "2024-01-02T00:00:00.000Z"),  // unchanged: no row
                                       Indicator(IdOf(3), "2024-01-02T00:00:00.000Z")});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(put.status().message(), fmt::format("postgresql: put batch: batch item 2 ({}): injected fault", IdOf(3)));
}

// A sweep reads through a server-side cursor in one snapshot: what another process commits while it runs is
// not visited, however many batches the sweep still fetches.
TEST_F(PostgresStoreTest, SweepSeesOneConsistentState) {
  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto other = OpenStore(uri_);
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 10; ++i) batch.push_back(Indicator(IdOf(i), "2024-01-02T00:00:00.000Z"));
  ASSERT_TRUE((*store)->Put(batch).ok());
  Query query;
  query.limit = 3;  // four FETCHes
  std::vector<int64_t> seqs;
  absl::Status swept = (*store)->Sweep(query, [&](const StoredObject& o) {
    seqs.push_back(o.seq);
    if (seqs.size() == 1) {
      EXPECT_TRUE((*other)->Put(std::vector{Indicator(IdOf(11), "2024-01-02T00:00:00.000Z")}).ok());
    }
    return true;
  });
  ASSERT_TRUE(swept.ok()) << swept;
  EXPECT_EQ(seqs, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // The cursor's transaction ended: the connection went back to the pool idle and sees the new commit.
  auto all = (*store)->List(Query{});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->objects.size(), 11u);
}

// The change listener hears commits of any opener, coalesced to the highest seq, and account writes; when its
// connection is killed it reconnects and asks for a resynchronisation, then hears commits again.
TEST_F(PostgresStoreTest, ChangeListenerHearsCommitsAndRecoversFromALostConnection) {
  std::mutex mu;
  std::condition_variable cv;
  int64_t heard_seq = 0;
  int accounts_changed = 0;
  int resynchronised = 0;
  auto notify = [&](auto change) {
    {
      std::lock_guard lock(mu);
      change();
    }
    cv.notify_all();
  };
  auto wait_for = [&](auto done) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), done);
  };
  auto listener = ListenForChanges(
      uri_, {.objects_committed = [&](int64_t seq) { notify([&] { heard_seq = std::max(heard_seq, seq); }); },
             .accounts_changed = [&] { notify([&] { ++accounts_changed; }); },
             .resynchronise = [&] { notify([&] { ++resynchronised; }); }});
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_TRUE(wait_for([&] { return resynchronised == 1; }));

  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put(std::vector{Indicator(IdOf(1), "2024-01-02T00:00:00.000Z"),
                                        Indicator(IdOf(2), "2024-01-02T00:00:00.000Z")})
                  .ok());
  EXPECT_TRUE(wait_for([&] { return heard_seq == 2; }));
  // A batch that stores nothing (unchanged) sends nothing; the next one is heard with its own seq.
  ASSERT_TRUE((*store)->Put(std::vector{Indicator(IdOf(1), "2024-01-02T00:00:00.000Z")}).ok());
  ASSERT_TRUE((*store)->Put(std::vector{Indicator(IdOf(3), "2024-01-02T00:00:00.000Z")}).ok());
  EXPECT_TRUE(wait_for([&] { return heard_seq == 3; }));
  EXPECT_EQ((*listener)->object_notifications(), 2u);

  auto accounts = OpenAccounts(uri_);
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  ASSERT_TRUE((*accounts)->CreateOrganisation("CERT-Listen", OrgKind::kLocal).ok());
  EXPECT_TRUE(wait_for([&] { return accounts_changed >= 1; }));

  // The server ends the listener's session (a restart, a failover): it comes back on its own.
  ASSERT_EQ(testing::PgText(uri_, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"),
            "1");
  EXPECT_TRUE(wait_for([&] { return resynchronised == 2; }));
  EXPECT_EQ((*listener)->connections(), 2u);
  ASSERT_TRUE((*store)->Put(std::vector{Indicator(IdOf(4), "2024-01-02T00:00:00.000Z")}).ok());
  EXPECT_TRUE(wait_for([&] { return heard_seq == 4; }));
}

TEST(ChangeListener, SqliteHasNoNotifications) {
  EXPECT_TRUE(SendsChangeNotifications("postgresql://concord@db.example/concord"));
  EXPECT_TRUE(SendsChangeNotifications("postgres://db.example/concord"));
  EXPECT_FALSE(SendsChangeNotifications("sqlite:/tmp/x.db"));
  EXPECT_FALSE(SendsChangeNotifications("/tmp/postgresql://x.db"));
  // A SQLite file has one writing process, and serve polls its change feed every 250 ms (node/serve.cc), so
  // nothing listens on SQLite: asking for a listener is a caller's error, answered Unimplemented.
  EXPECT_EQ(ListenForChanges("sqlite:/tmp/x.db", {}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ListenForChanges("/tmp/x.db", {}).status().code(), absl::StatusCode::kUnimplemented);
}

// The server ends every connection (a restart, a failover): the call that finds its connection dead fails
// Unavailable, and the store reconnects for the next one.
TEST_F(PostgresStoreTest, LostConnectionsAreReplaced) {
  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put(std::vector{Indicator(IdOf(1), "2024-01-02T00:00:00.000Z")}).ok());
  ASSERT_TRUE((*store)->Get(IdOf(1)).ok());
  const std::string database = uri_.substr(uri_.rfind('/') + 1);
  ASSERT_EQ(testing::PgText(uri_.substr(0, uri_.rfind('/') + 1) + "postgres",
                            fmt::format("SELECT count(pg_terminate_backend(pid)) >= 2 FROM pg_stat_activity "
                                        "WHERE datname = '{}' AND pid <> pg_backend_pid()",
                                        database)),
            "t");
  auto lost_write = (*store)->Put(std::vector{Indicator(IdOf(2), "2024-01-02T00:00:00.000Z")});
  if (!lost_write.ok()) {
    EXPECT_EQ(lost_write.status().code(), absl::StatusCode::kUnavailable) << lost_write.status();
    EXPECT_THAT(std::string(lost_write.status().message()), StartsWith("postgresql: put batch: "));
  }
  auto lost_read = (*store)->Get(IdOf(1));
  if (!lost_read.ok()) {
    EXPECT_EQ(lost_read.status().code(), absl::StatusCode::kUnavailable) << lost_read.status();
  }
  auto write = (*store)->Put(std::vector{Indicator(IdOf(2), "2024-01-02T00:00:00.000Z")});
  ASSERT_TRUE(write.ok()) << write.status();
  auto read = (*store)->Get(IdOf(2));
  ASSERT_TRUE(read.ok()) << read.status();
}

// Migration 9: a version large enough for TOAST is compressed with LZ4, and reads back byte for byte.
TEST_F(PostgresStoreTest, LargeVersionsAreCompressedWithLz4AndReadBackWhole) {
  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  stix::Object big = Indicator(IdOf(1), "2024-01-02T00:00:00.000Z");
  std::string description;
  for (int i = 0; i < 400; ++i) description += fmt::format("seen at sensor {} on the perimeter; ", i % 7);
  big.json["description"] = description;  // about 14 KB, compressible
  stix::Object small = Indicator(IdOf(2), "2024-01-02T00:00:00.000Z");
  ASSERT_TRUE((*store)->Put(std::vector{big, small}).ok());
  EXPECT_EQ(testing::PgText(uri_, fmt::format("SELECT pg_column_compression(json) FROM versions WHERE id = '{}'", IdOf(1))),
            "lz4");
  EXPECT_EQ(testing::PgText(uri_, fmt::format("SELECT pg_column_compression(json) IS NULL FROM versions WHERE id = '{}'",
                                              IdOf(2))),
            "t");  // under the TOAST threshold: stored as is
  auto read = (*store)->Get(IdOf(1));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->json, boost::json::serialize(big.json));

  // A database at schema 8 (pglz) reaches 9 when a node opens it; what was stored before reads as before.
  store->reset();
  ASSERT_EQ(testing::PgExec(uri_, "ALTER TABLE versions ALTER COLUMN json SET COMPRESSION pglz; "
                                  "DELETE FROM schema_migrations WHERE version >= 9"),
            "");
  const std::string column_compression =
      "SELECT attcompression FROM pg_attribute WHERE attrelid = 'versions'::regclass AND attname = 'json'";
  EXPECT_EQ(testing::PgText(uri_, column_compression), "p");
  store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(testing::PgText(uri_, column_compression), "l");
  EXPECT_EQ(testing::PgInt(uri_, "SELECT max(version) FROM schema_migrations"), 9);
  read = (*store)->Get(IdOf(1));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->json, boost::json::serialize(big.json));
}

TEST_F(PostgresStoreTest, TextOrdersByBytesWhateverTheDatabaseCollation) {
  EXPECT_EQ(testing::PgInt(uri_, "SELECT 1"), 1);
  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(testing::PgInt(uri_, "SELECT count(*) FROM information_schema.columns WHERE table_name IN "
                                 "('objects', 'versions', 'postings') AND column_name IN ('id', 'version_key', 'value') "
                                 "AND collation_name = 'C'"),
            5);
}

}  // namespace
}  // namespace concord::store
