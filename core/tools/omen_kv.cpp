// omen_kv: a command-line tool over the embedded store (TieredStore on RocksDBStorage).
//
//   omen_kv DIR load FILE.csv        rows "key,value" (key: a signed 64-bit integer), 10,000 per transaction
//   omen_kv DIR put KEY VALUE | del KEY | get KEY
//   omen_kv DIR range FIRST LAST [LIMIT]   keys FIRST..LAST inclusive, in order
//   omen_kv DIR migrate [MIN_AGE]    move keys not written in the last MIN_AGE commits to a cold run
//   omen_kv DIR stats
//
// Exit status: 0 ok, 1 not found, 2 usage, 3 any other error (message on stderr).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "omen/key.h"
#include "omen/rocksdb_storage.h"
#include "omen/tiered_store.h"

namespace {

int usage() {
  std::cerr << "usage: omen_kv DIR load FILE.csv | put KEY VALUE | del KEY | get KEY |\n"
               "               range FIRST LAST [LIMIT] | migrate [MIN_AGE] | stats\n";
  return 2;
}

int fail(const omen::Status& s) {
  std::cerr << "omen_kv: " << s.to_string() << "\n";
  return s.is_not_found() ? 1 : 3;
}

bool parse_key(const std::string& text, uint64_t* key) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size()) return false;
    *key = omen::key::from_int64(v);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

int load(omen::TieredStore& t, const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(omen::Status::IOError("cannot read " + path));
  std::string line;
  size_t rows = 0, line_no = 0;
  auto txn = t.begin();
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t comma = line.find(',');
    uint64_t key;
    if (comma == std::string::npos || !parse_key(line.substr(0, comma), &key)) {
      if (line_no == 1) continue;  // a header row
      return fail(
          omen::Status::InvalidArgument(path + ":" + std::to_string(line_no) + ": expected KEY,VALUE"));
    }
    omen::Status s = txn.put(key, line.substr(comma + 1));
    if (!s.ok()) return fail(s);
    if (++rows % 10000 == 0) {
      if (!(s = txn.commit()).ok()) return fail(s);
      txn = t.begin();
    }
  }
  if (omen::Status s = txn.commit(); !s.ok()) return fail(s);
  std::cout << "loaded " << rows << " rows\n";
  return 0;
}

int run(omen::TieredStore& t, int argc, char** argv) {
  std::string cmd = argv[2];
  uint64_t k1 = 0, k2 = 0;
  if (cmd == "load" && argc == 4) return load(t, argv[3]);
  if ((cmd == "get" || cmd == "del") && argc == 4 && parse_key(argv[3], &k1)) {
    auto txn = t.begin();
    std::string v;
    if (cmd == "del") {
      omen::Status s = txn.del(k1);
      return s.ok() && (s = txn.commit()).ok() ? 0 : fail(s);
    }
    if (omen::Status s = txn.get(k1, &v); !s.ok()) return fail(s);
    std::cout << v << "\n";
    return 0;
  }
  if (cmd == "put" && argc == 5 && parse_key(argv[3], &k1)) {
    auto txn = t.begin();
    omen::Status s = txn.put(k1, argv[4]);
    return s.ok() && (s = txn.commit()).ok() ? 0 : fail(s);
  }
  if (cmd == "range" && (argc == 5 || argc == 6) && parse_key(argv[3], &k1) && parse_key(argv[4], &k2)) {
    uint64_t limit = argc == 6 ? std::stoull(argv[5]) : UINT64_MAX, n = 0;
    auto txn = t.begin();
    omen::Status s = txn.scan(k1, k2, [&](uint64_t k, std::string_view v) {
      std::cout << omen::key::to_int64(k) << "," << v << "\n";
      return ++n < limit;
    });
    return s.ok() ? 0 : fail(s);
  }
  if (cmd == "migrate" && argc <= 4) {
    size_t moved = 0;
    omen::Status s = t.maintain();
    if (s.ok()) s = t.migrate(argc == 4 ? std::stoull(argv[3]) : 0, &moved);
    if (!s.ok()) return fail(s);
    std::cout << "moved " << moved << " keys to the cold tier\n";
    return 0;
  }
  if (cmd == "stats" && argc == 3) {
    auto st = t.stats();
    std::cout << "hot keys: " << st.hot_keys << "\nhot versions: " << st.hot_versions
              << "\ncold runs: " << st.cold_runs << "\ncold keys: " << st.cold_keys
              << "\nindex: " << st.index_kind << "\nindex model bytes: " << st.model_bytes
              << "\nlast commit timestamp: " << st.last_commit_ts << "\nhot log bytes: " << st.log_bytes
              << "\nhot log checkpoint bytes: " << st.checkpoint_bytes << "\n"
              << t.storage().stats();
    return 0;
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  std::unique_ptr<omen::RocksDBStorage> db;
  if (omen::Status s = omen::RocksDBStorage::open(argv[1], {}, &db); !s.ok()) return fail(s);
  std::unique_ptr<omen::TieredStore> t;
  omen::TierOptions o;
  o.auto_maintenance = false;  // a short-lived process: maintenance only on "migrate"
  if (omen::Status s = omen::TieredStore::open(db.get(), o, &t); !s.ok()) return fail(s);
  return run(*t, argc, argv);
}
