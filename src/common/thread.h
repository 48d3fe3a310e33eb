// concord/common/thread.h — naming threads and ranking background work below requests.
#pragma once

#include <string_view>

namespace concord {

// Names the calling thread (at most 15 bytes are kept): `top -H`, `ps -T` and debuggers show it.
void NameThisThread(std::string_view name);

inline constexpr int kBackgroundNice = 10;

// Marks the calling thread as background work (nice kBackgroundNice, or lower if it already is): when the cores are busy the scheduler gives the
// threads that answer requests the CPU first, so housekeeping (checkpoints, index runs) lengthens itself
// rather than the requests' tail. Best effort: a failure changes nothing else.
void RankThisThreadAsBackground();

}  // namespace concord
