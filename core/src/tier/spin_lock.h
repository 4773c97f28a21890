// Brief spinning before sleeping, for the tiered store's short critical sections.
//
// The hot tier's lock is held for well under a microsecond by readers and a few microseconds by
// an install; the commit lock for a few set operations. With the standard mutexes alone, a thread
// that meets a holder sleeps in futex() at once, and the wake-up costs far more than the wait it
// avoided: two threads committing 10-operation transactions spent half their time asleep and ran
// at about the speed of one (docs/storage.md). Spinning for a bounded number of tries first keeps
// short waits on the CPU; a long wait (a migration or checkpoint holding the lock) still ends in
// the blocking call, so an oversubscribed machine does not burn its cores.
#pragma once

#include <mutex>
#include <shared_mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace omen::detail {

inline void cpu_pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Calls `ready` up to 64 times, pausing 16 times in between (roughly 10-20 microseconds in all);
// true as soon as it returns true.
template <class Ready>
bool spin_until(Ready ready) {
  for (int t = 0; t < 64; ++t) {
    if (ready()) return true;
    for (int p = 0; p < 16; ++p) cpu_pause();
  }
  return false;
}

// Locks `m`, spinning briefly before blocking.
inline std::unique_lock<std::mutex> lock_spinning(std::mutex& m) {
  std::unique_lock lk(m, std::defer_lock);
  if (!spin_until([&] { return lk.try_lock(); })) lk.lock();
  return lk;
}

// A std::shared_mutex whose lock and lock_shared spin briefly before blocking.
class SpinSharedMutex {
 public:
  void lock() {
    if (!spin_until([this] { return m_.try_lock(); })) m_.lock();
  }
  bool try_lock() { return m_.try_lock(); }
  void unlock() { m_.unlock(); }

  void lock_shared() {
    if (!spin_until([this] { return m_.try_lock_shared(); })) m_.lock_shared();
  }
  bool try_lock_shared() { return m_.try_lock_shared(); }
  void unlock_shared() { m_.unlock_shared(); }

 private:
  std::shared_mutex m_;
};

}  // namespace omen::detail
