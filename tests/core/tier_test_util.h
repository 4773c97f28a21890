// Helpers shared by the TieredStore tests: open a store, commit one put, read everything back.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "omen/storage.h"
#include "omen/tiered_store.h"

namespace omen::test {

inline std::unique_ptr<TieredStore> open_store(StorageEngine* db, TierOptions o = {}) {
  std::unique_ptr<TieredStore> t;
  Status s = TieredStore::open(db, o, &t);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return t;
}

// One transaction that writes one key.
inline Status put1(TieredStore& t, uint64_t k, std::string_view v) {
  auto txn = t.begin();
  OMEN_RETURN_IF_ERROR(txn.put(k, v));
  return txn.commit();
}

// Keys [first, last] visible to a new snapshot; checks the scan's order (strictly increasing).
inline std::map<uint64_t, std::string> scan_all(TieredStore& t, uint64_t first = 0,
                                                uint64_t last = UINT64_MAX) {
  std::map<uint64_t, std::string> out;
  auto txn = t.begin();
  uint64_t prev = 0;
  bool any = false;
  Status s = txn.scan(first, last, [&](uint64_t k, std::string_view v) {
    EXPECT_TRUE(!any || k > prev) << "scan out of order or repeated key " << k;
    any = true, prev = k;
    out.emplace(k, v);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

}  // namespace omen::test
