#include "common/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace concord {

void NameThisThread(std::string_view name) {
  const std::string truncated(name.substr(0, std::min<size_t>(name.size(), 15)));
  (void)pthread_setname_np(pthread_self(), truncated.c_str());
}

void RankThisThreadAsBackground() {
  // On Linux the nice value belongs to the thread (task) named by its id, not to the process.
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && nice >= kBackgroundNice) return;  // already as low (raising it would need privileges)
  (void)setpriority(PRIO_PROCESS, tid, kBackgroundNice);
}

}  // namespace concord
