// Byte layout of the tiered store inside its StorageEngine (docs/storage.md, "Key layout").
//
//   'R' run:8               -> count:8            a cold run's header (written last in its batch)
//   'K' run:8 chunk:8       -> key:8 * n          the run's sorted keys, kKeysPerChunk per chunk
//   'C' run:8 pos:8         -> kind:1 value       the run's entry at position pos
//   'X' run:8               -> count:8            a merged-away run whose rows are still to delete,
//                                                  or a run a compaction is still writing
//   'M' name                -> ...                metadata: "format", "last_ts"
// Integers are big-endian so bytewise order is numeric order. Hot versions are not rows here:
// they live in the hot log (tier/hot_log.h). Format omen-tier-1 kept them as 'H' key:8 rows
// (kLegacyHotTag).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace omen::detail {

inline constexpr char kRunTag = 'R', kRunKeysTag = 'K', kColdTag = 'C', kMetaTag = 'M', kDeadRunTag = 'X';
inline constexpr char kValueKind = 'V', kDeleteKind = 'D';
// Format omen-tier-1 only: 'H' key:8 -> xmin:8 kind:1 value, the newest hot version of key.
// Converted into the hot log at the first open (TieredStore::recover).
inline constexpr char kLegacyHotTag = 'H';
inline constexpr const char* kLegacyFormat = "omen-tier-1";
inline constexpr size_t kKeysPerChunk = 65536;

inline void put_u64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t get_u64(std::string_view s, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
inline std::string tagged(char tag, uint64_t a) {
  std::string k(1, tag);
  put_u64(&k, a);
  return k;
}
inline std::string tagged(char tag, uint64_t a, uint64_t b) {
  std::string k = tagged(tag, a);
  put_u64(&k, b);
  return k;
}
// Built by append, not operator+: GCC 12 at -O3 reports a false -Wrestrict on string + string.
inline std::string meta_key(std::string_view name) {
  std::string k;
  k.reserve(1 + name.size());
  k.push_back(kMetaTag);
  k.append(name);
  return k;
}
inline std::string versioned_value(bool deleted, std::string_view value) {
  std::string v(1, deleted ? kDeleteKind : kValueKind);
  v.append(value);
  return v;
}

}  // namespace omen::detail
