#include "common/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace concord {
namespace {

std::string NameOfThisThread() {
  char name[32] = {};
  EXPECT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
  return name;
}

int NiceOfThisThread() {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  EXPECT_EQ(errno, 0);
  return nice;
}

TEST(Thread, NameIsSetAndCutTo15Bytes) {
  std::string short_name, long_name;
  std::thread([&] {
    NameThisThread("audit-commit");
    short_name = NameOfThisThread();
    NameThisThread("a-name-longer-than-fifteen-bytes");
    long_name = NameOfThisThread();
  }).join();
  EXPECT_EQ(short_name, "audit-commit");
  EXPECT_EQ(long_name, "a-name-longer-t");
}

TEST(Thread, BackgroundRankLowersOnlyTheCallingThread) {
  const int before = NiceOfThisThread();
  int in_thread = -100;
  std::thread([&] {
    RankThisThreadAsBackground();
    in_thread = NiceOfThisThread();
  }).join();
  EXPECT_EQ(in_thread, std::max(before, kBackgroundNice));
  EXPECT_EQ(NiceOfThisThread(), before);
}

}  // namespace
}  // namespace concord
