// How small can leaves get on pg_compare.sh's random dataset (issue 17; docs/design.md)?
//
//   leaf_floor_bench [N [OUT]]   (N = 10000000, OUT = /tmp/omendb-leaf-pairs.bin)
//
// Builds the dataset's (key, TID) pairs as the benchmark's tables hold them: row i (1..N) has key
// bench_key(i) (bench/sql/pg_compare_setup.sql: a bijection of [0, 2^62)) and sits at heap TID
// ((i-1) / R, (i-1) % R + 1), R = the rows of (k int8, v int8) per 8 kB page. Prints the
// information floor of the pairs in key order (keys: log2 C(2^62, N); TIDs, a permutation:
// log2 N!) and writes them sorted (key delta as 8 bytes, block as 4, offset as 2) to OUT, for a
// general-purpose compressor to be measured against it (zstd -19 --long, xz -9e).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr uint64_t kMask = (uint64_t{1} << 62) - 1;
// (page - its header) / (tuple header + two int8 + line pointer)
constexpr int kRowsPerPage = (8192 - 24) / (24 + 16 + 4);

uint64_t bench_key(uint64_t i) {
  uint64_t x = i & kMask;
  for (int r = 0; r < 3; r++) {
    x = (x + ((x << 7) & kMask)) & kMask;
    x = (x + ((x << 19) & kMask)) & kMask;
    x = (x + ((x << 31) & kMask)) & kMask;
    x = (x + ((x << 47) & kMask)) & kMask;
    x ^= x >> 29;
  }
  return x;
}

struct Pair {
  uint64_t key;
  uint32_t block;
  uint16_t offset;
};

// log2 of n! and of C(u, n) for u much larger than n (Stirling through lgamma, in bits).
double log2_factorial(double n) { return std::lgamma(n + 1) / std::log(2.0); }
double log2_choose_large(double log2_u, double n) {
  // C(u, n) ~ u^n / n! when n << u.
  return n * log2_u - log2_factorial(n);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000;
  const char* out = argc > 2 ? argv[2] : "/tmp/omendb-leaf-pairs.bin";
  std::vector<Pair> pairs(n);
  for (uint64_t i = 1; i <= n; i++)
    pairs[i - 1] = {bench_key(i), static_cast<uint32_t>((i - 1) / kRowsPerPage),
                    static_cast<uint16_t>((i - 1) % kRowsPerPage + 1)};
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.key < b.key; });
  FILE* f = std::fopen(out, "wb");
  if (f == nullptr) {
    std::perror(out);
    return 1;
  }
  uint64_t prev = 0;
  for (const Pair& p : pairs) {
    uint64_t delta = p.key - prev;
    prev = p.key;
    std::fwrite(&delta, sizeof delta, 1, f);
    std::fwrite(&p.block, sizeof p.block, 1, f);
    std::fwrite(&p.offset, sizeof p.offset, 1, f);
  }
  std::fclose(f);
  const double dn = static_cast<double>(n);
  const double keys = log2_choose_large(62, dn) / dn, tids = log2_factorial(dn) / dn;
  std::printf("%llu pairs: floor %.2f bits of key + %.2f bits of TID = %.2f bits per pair, %.1f MB\n",
              static_cast<unsigned long long>(n), keys, tids, keys + tids, (keys + tids) * dn / 8 / 1e6);
  std::printf("sorted pairs (14 bytes each) written to %s\n", out);
  return 0;
}
