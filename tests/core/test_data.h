// Test data for the learned-index suites: distributions generated in a key's native SQL type,
// then encoded with omen::key and sorted. Shared by model/search/static/dynamic tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "omen/key.h"

namespace omen::testing {

enum class Dist {
  kUniform,
  kLognormal,
  kNormal,
  kClustered,
  kSequential,
  kStep,
  kHeavyDups,
  kAllEqual,
  kExtremes
};
inline constexpr Dist kAllDists[] = {Dist::kUniform,   Dist::kLognormal,  Dist::kNormal,
                                     Dist::kClustered, Dist::kSequential, Dist::kStep,
                                     Dist::kHeavyDups, Dist::kAllEqual,   Dist::kExtremes};
inline const char* dist_name(Dist d) {
  static constexpr const char* kNames[] = {"uniform", "lognormal",  "normal",    "clustered", "sequential",
                                           "step",    "heavy_dups", "all_equal", "extremes"};
  return kNames[static_cast<int>(d)];
}

// Native SQL key types: a native value type, saturating conversion from double, the encoding.
template <class T, uint64_t (*Enc)(T), bool kFloat = false>
struct KeyType {
  using Native = T;
  static constexpr bool is_float = kFloat;
  static T lowest() { return std::numeric_limits<T>::lowest(); }
  static T highest() { return std::numeric_limits<T>::max(); }
  static T from_double(double v) {
    if constexpr (kFloat) {
      return static_cast<T>(std::clamp(v, double(lowest()), double(highest())));
    } else {
      if (std::isnan(v)) return 0;
      if (v <= double(lowest())) return lowest();
      if (v >= double(highest())) return highest();  // double(INT64_MAX) rounds up to 2^63
      return static_cast<T>(v);
    }
  }
  static uint64_t encode(T v) { return Enc(v); }
};
inline uint64_t enc_i16(int16_t v) { return key::from_int16(v); }
inline uint64_t enc_i32(int32_t v) { return key::from_int32(v); }
inline uint64_t enc_i64(int64_t v) { return key::from_int64(v); }
inline uint64_t enc_f4(float v) { return key::from_float4(v); }
inline uint64_t enc_f8(double v) { return key::from_float8(v); }
inline uint64_t enc_date(int32_t v) { return key::from_date(v); }
inline uint64_t enc_ts(int64_t v) { return key::from_timestamp(v); }
using Int16Key = KeyType<int16_t, enc_i16>;
using Int32Key = KeyType<int32_t, enc_i32>;
using Int64Key = KeyType<int64_t, enc_i64>;
using Float4Key = KeyType<float, enc_f4, true>;
using Float8Key = KeyType<double, enc_f8, true>;
using DateKey = KeyType<int32_t, enc_date>;
using TimestampKey = KeyType<int64_t, enc_ts>;

// n values of distribution d in K's native type (unsorted), with the natural scale of K.
template <class K>
std::vector<typename K::Native> native_values(Dist d, size_t n, uint64_t seed) {
  using T = typename K::Native;
  std::mt19937_64 rng(seed);
  const double hi = std::min(double(K::highest()), 1e15);  // dates/timestamps: scaled ranges below
  std::vector<T> v;
  v.reserve(n);
  auto put = [&](double x) { v.push_back(K::from_double(x)); };
  switch (d) {
    case Dist::kUniform: {
      std::uniform_real_distribution<double> u(-hi, hi);
      while (v.size() < n) put(u(rng));
      break;
    }
    case Dist::kLognormal: {
      std::lognormal_distribution<double> u(0.0, 2.0);
      while (v.size() < n) put(u(rng) * hi / 1e4);
      break;
    }
    case Dist::kNormal: {
      std::normal_distribution<double> u(0.0, hi / 8);
      while (v.size() < n) put(u(rng));
      break;
    }
    case Dist::kClustered: {  // OSM-like: dense clusters far apart
      std::uniform_real_distribution<double> center(-hi, hi), off(0, hi / 1e6 + 50);
      std::vector<double> centers(20);
      for (double& c : centers) c = center(rng);
      while (v.size() < n) put(centers[rng() % centers.size()] + off(rng));
      break;
    }
    case Dist::kSequential:
      for (size_t i = 0; i < n; ++i) put(double(i) - double(n / 2));
      break;
    case Dist::kStep:
      for (size_t i = 0; i < n; ++i) put(double(i / 64) * std::min(hi / double(n), 1e6) - hi / 2);
      break;
    case Dist::kHeavyDups:  // 10 distinct values, n / 10 copies each
      for (size_t i = 0; i < n; ++i) put(double(i % 10) * hi / 20);
      break;
    case Dist::kAllEqual:
      for (size_t i = 0; i < n; ++i) put(42);
      break;
    case Dist::kExtremes: {
      const double inf = std::numeric_limits<double>::infinity();
      std::vector<double> edges = {double(K::lowest()), double(K::highest()), 0.0, -1.0, 1.0, -0.0};
      if constexpr (K::is_float) {
        edges.insert(edges.end(), {inf, -inf, std::nan(""), -std::nan(""), 1e-310, -1e-310});
        for (double e : edges) v.push_back(static_cast<T>(e));  // no clamping: keep NaN/Inf
      } else {
        for (double e : edges) put(e);
        v.push_back(K::lowest());
        v.push_back(K::highest());
      }
      std::uniform_real_distribution<double> u(-hi, hi);
      while (v.size() < n) {
        if (rng() % 4 == 0)
          v.push_back(v[rng() % 12]);  // duplicate an extreme
        else
          put(u(rng));
      }
      break;
    }
  }
  v.resize(n);
  return v;
}

// Sorted encoded keys of distribution d in type K.
template <class K>
std::vector<uint64_t> make_keys(Dist d, size_t n, uint64_t seed = 7) {
  std::vector<uint64_t> keys;
  keys.reserve(n);
  for (auto x : native_values<K>(d, n, seed)) keys.push_back(K::encode(x));
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Raw uint64 keys at the edges of the key space: 0, UINT64_MAX, around 2^63 and 2^64, huge gaps,
// with duplicates.
inline std::vector<uint64_t> raw_extreme_keys(size_t n, uint64_t seed = 11) {
  std::mt19937_64 rng(seed);
  const uint64_t max = std::numeric_limits<uint64_t>::max(), half = uint64_t{1} << 63;
  std::vector<uint64_t> k = {0,    0,        1,       2,       half - 2, half - 1, half,
                             half, half + 1, max - 2, max - 1, max,      max};
  while (k.size() < n) {
    switch (rng() % 4) {
      case 0:
        k.push_back(half + (rng() % 4096) - 2048);
        break;
      case 1:
        k.push_back(max - rng() % 4096);
        break;
      case 2:
        k.push_back(rng() % 4096);
        break;
      default:
        k.push_back(rng());
        break;
    }
  }
  std::sort(k.begin(), k.end());
  return k;
}

// Every interesting query for keys: each key, its neighbours, random keys, 0, UINT64_MAX.
inline std::vector<uint64_t> queries_for(const std::vector<uint64_t>& keys, size_t random = 1000) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> q = {0, 1, max, max - 1, uint64_t{1} << 63, (uint64_t{1} << 63) - 1};
  for (uint64_t k : keys) {
    q.push_back(k);
    if (k > 0) q.push_back(k - 1);
    if (k < max) q.push_back(k + 1);
  }
  std::mt19937_64 rng(99);
  for (size_t i = 0; i < random; ++i) q.push_back(rng());
  if (!keys.empty()) {
    std::uniform_int_distribution<uint64_t> in(keys.front(), keys.back());
    for (size_t i = 0; i < random; ++i) q.push_back(in(rng));
  }
  return q;
}

inline size_t true_lower_bound(const std::vector<uint64_t>& keys, uint64_t q) {
  return static_cast<size_t>(std::lower_bound(keys.begin(), keys.end(), q) - keys.begin());
}

}  // namespace omen::testing
