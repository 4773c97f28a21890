// Support for core_bench: huge-page arrays, key sets, the DRAM-miss pointer chase, timing and
// running a function on T threads at once. Bench-only code (not part of the core library).
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <execution>
#include <fstream>
#include <new>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace bench {

inline constexpr size_t kHugePage = size_t{2} << 20;

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Asks for transparent huge pages on every whole 2 MiB page inside [p, p + bytes). Must run before
// the memory is first touched for the pages to be born huge.
inline void advise_huge(void* p, size_t bytes) {
  auto begin = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1);
  auto end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// A std::vector (the type the index constructors take) of n elements whose buffer was advised for
// huge pages before being zero-filled.
template <class T>
std::vector<T> huge_vector(size_t n) {
  std::vector<T> v;
  v.reserve(n);
  advise_huge(v.data(), n * sizeof(T));
  v.resize(n);
  return v;
}

inline std::vector<uint64_t> huge_copy(std::span<const uint64_t> src) {
  auto v = huge_vector<uint64_t>(src.size());
  std::copy(std::execution::par_unseq, src.begin(), src.end(), v.begin());
  return v;
}

// "[madvise]"-style current mode of a THP sysfs knob, or "?" if unreadable.
inline std::string thp_mode(const char* knob) {
  std::ifstream f(std::string("/sys/kernel/mm/transparent_hugepage/") + knob);
  std::string line;
  std::getline(f, line);
  auto a = line.find('['), b = line.find(']');
  return a == std::string::npos || b == std::string::npos ? "?" : line.substr(a + 1, b - a - 1);
}

// The three load averages of /proc/loadavg, e.g. "0.52 0.58 0.59" (the machine is shared).
inline std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// AnonHugePages and Rss of this process in bytes (from /proc/self/smaps_rollup).
struct MemUse {
  size_t huge = 0, rss = 0;
};
inline MemUse mem_use() {
  std::ifstream f("/proc/self/smaps_rollup");
  MemUse m;
  std::string name;
  size_t kb;
  while (f >> name) {
    if (name == "Rss:" && f >> kb)
      m.rss = kb << 10;
    else if (name == "AnonHugePages:" && f >> kb)
      m.huge = kb << 10;
  }
  return m;
}

// Share (percent) of the resident memory of the mapping holding p that is in transparent huge
// pages (/proc/self/smaps); -1 if p is in no mapping. A huge mapping (e.g. a key array) has its
// own entry, so this tells which array got huge pages.
inline double huge_pct_at(const void* p) {
  std::ifstream f("/proc/self/smaps");
  const auto a = reinterpret_cast<uintptr_t>(p);
  bool in = false, found = false;
  double rss = 0, huge = 0;
  for (std::string line; std::getline(f, line);) {
    unsigned long lo = 0, hi = 0;
    if (line.find(':') > line.find(' ') && std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2) {
      in = a >= lo && a < hi;  // a mapping's header line: "lo-hi perms offset dev inode path"
      found = found || in;
      continue;
    }
    if (!in) continue;
    char key[64];
    double kb = 0;
    if (std::sscanf(line.c_str(), "%63s %lf", key, &kb) != 2) continue;
    if (std::strcmp(key, "Rss:") == 0)
      rss = kb;
    else if (std::strcmp(key, "AnonHugePages:") == 0)
      huge = kb;
  }
  return found ? 100.0 * huge / std::max(1.0, rss) : -1;
}

// Sorted key sets (duplicates kept), deterministic for a seed.
//   uniform:   uniform over all of uint64
//   lognormal: lognormal(mu 0, sigma 2) scaled by 1e12 and truncated (skewed, dense near the left)
inline std::vector<uint64_t> make_keys(const std::string& dist, size_t n, uint64_t seed) {
  auto keys = huge_vector<uint64_t>(n);
  std::mt19937_64 rng(seed);
  if (dist == "uniform") {
    for (auto& k : keys) k = rng();
  } else {
    std::lognormal_distribution<double> ln(0.0, 2.0);
    for (auto& k : keys) k = static_cast<uint64_t>(std::min(ln(rng) * 1e12, 1.8e19));
  }
  std::sort(std::execution::par_unseq, keys.begin(), keys.end());
  return keys;
}

// Q probe keys, each a stored key at a uniformly random position.
inline std::vector<uint64_t> make_queries(std::span<const uint64_t> keys, size_t q, uint64_t seed) {
  auto out = huge_vector<uint64_t>(q);
  std::mt19937_64 rng(seed);
  for (auto& k : out) k = keys[rng() % keys.size()];
  return out;
}

// DRAM-miss reference: a pointer chase over `bytes` of 64-byte lines (2 MiB-aligned, huge pages),
// linked in one random cycle (Sattolo's shuffle), so every hop is a dependent load from a random
// line that no prefetcher can guess. Built once; measured again whenever asked (the machine's
// load drifts, so each key set is compared with a figure taken in the same rounds).
class PointerChase {
 public:
  PointerChase(size_t bytes, uint64_t seed) : n_(std::max<size_t>(2, bytes / sizeof(Line))) {
    lines_ = static_cast<Line*>(
        std::aligned_alloc(kHugePage, (n_ * sizeof(Line) + kHugePage - 1) & ~(kHugePage - 1)));
    if (!lines_) throw std::bad_alloc();
    advise_huge(lines_, n_ * sizeof(Line));
    std::vector<uint32_t> succ(n_);
    for (size_t i = 0; i < n_; ++i) succ[i] = static_cast<uint32_t>(i);
    std::mt19937_64 rng(seed);
    for (size_t i = n_ - 1; i > 0; --i) std::swap(succ[i], succ[rng() % i]);  // Sattolo: one cycle
    for (size_t i = 0; i < n_; ++i) lines_[i].next = &lines_[succ[i]];
    at_ = lines_;
  }
  ~PointerChase() { std::free(lines_); }
  PointerChase(const PointerChase&) = delete;
  PointerChase& operator=(const PointerChase&) = delete;

  size_t bytes() const { return n_ * sizeof(Line); }
  const void* data() const { return lines_; }
  // ns per hop over `hops` dependent hops, continuing where the last call stopped.
  double ns_per_hop(size_t hops) {
    const Line* p = at_;
    double t = now_s();
    for (size_t h = 0; h < hops; ++h) p = p->next;
    t = now_s() - t;
    at_ = p;
    return t * 1e9 / static_cast<double>(hops);
  }

 private:
  struct alignas(64) Line {
    const Line* next;
    char pad[56];
  };
  size_t n_;
  Line* lines_;
  const Line* at_;
};

// Runs fn(t) on threads t = 0..T-1 released together; returns the wall seconds from release to
// the last thread's end.
template <class Fn>
double run_threads(int threads, Fn&& fn) {
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      fn(t);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double start = now_s();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return now_s() - start;
}

}  // namespace bench
