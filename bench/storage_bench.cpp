// Storage bench: point get, point put, ordered range scan (100 keys) and 10-operation transactions
// (5 reads + 5 writes) per second on MemoryStorage, RocksDBStorage and TieredStore, against
// RocksDB's own OptimisticTransactionDB on the same workload in the same run.
//
//   build/bench/storage_bench [--keys N] [--seconds S] [--threads T] [--dir D] [--txn-only 1]
//
// --txn-only 1 measures only the transaction rows (txn10, txn10 synced), e.g. for profiling.
//
// Prints a table (ops/s and the ratio to OptimisticTransactionDB) and writes bench/out/storage_bench.csv.
// Durability is the same on both RocksDB sides: the write-ahead log is written on every commit but
// not fsynced (WriteOptions::sync = false: survives a process crash, not a power loss); one extra
// row measures synced transactions on both. RocksDB options (LZ4/ZSTD, 10-bit bloom filters, 64 MiB
// block cache, 32 MiB write buffer) are the same on both sides.
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/optimistic_transaction_db.h>
#include <rocksdb/utilities/transaction.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "omen/memory_storage.h"
#include "omen/rocksdb_storage.h"
#include "omen/tiered_store.h"

namespace {

struct Config {
  uint64_t keys = 200000;
  double seconds = 1.0;
  int threads = 2;
  std::string dir = "/tmp/omen-storage-bench";
  bool txn_only = false;  // --txn-only: just the transaction rows (for profiling)
};

std::string skey(uint64_t k) {  // big-endian, so byte order is numeric order
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(k >> (56 - 8 * i));
  return s;
}
std::string value_for(uint64_t k) { return std::string(100 - 8, 'v') + skey(k); }

// Runs op(rng) on cfg.threads threads for cfg.seconds; op returns the operations it completed.
// Ops per wall-clock second, and CPU time (every thread of the process: the workload's and the
// engines' background threads) per op, which a loaded shared machine disturbs far less.
struct Rate {
  double ops_per_sec, cpu_us_per_op;
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

Rate measure(const Config& cfg, const std::function<uint64_t(std::mt19937_64&)>& op) {
  double cpu0 = cpu_seconds();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> ts;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < cfg.threads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(1234 + t);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) n += op(rng);
      total += n;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
  stop = true;
  for (auto& th : ts) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double n = static_cast<double>(std::max<uint64_t>(total.load(), 1));
  return {n / secs, (cpu_seconds() - cpu0) * 1e6 / n};
}

rocksdb::Options otdb_options() {  // the same settings RocksDBStorage uses
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.block_cache = rocksdb::NewLRUCache(size_t{64} << 20);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  o.write_buffer_size = size_t{32} << 20;
  o.compression = rocksdb::kLZ4Compression;
  o.bottommost_compression = rocksdb::kZSTD;
  o.max_background_jobs = 2;
  return o;
}

struct Results {
  std::map<std::string, std::map<std::string, double>> ops, cpu;  // workload -> engine -> ops/s, CPU us/op
  std::vector<std::string> engines, workloads;
  void add(const std::string& w, const std::string& e, Rate v) {
    if (std::find(engines.begin(), engines.end(), e) == engines.end()) engines.push_back(e);
    if (std::find(workloads.begin(), workloads.end(), w) == workloads.end()) workloads.push_back(w);
    ops[w][e] = v.ops_per_sec;
    cpu[w][e] = v.cpu_us_per_op;
    std::fprintf(stderr, "  %-22s %-18s %12.0f ops/s %9.2f CPU us/op\n", w.c_str(), e.c_str(), v.ops_per_sec,
                 v.cpu_us_per_op);
  }
};

uint64_t pick(std::mt19937_64& rng, const Config& cfg) { return (rng() % cfg.keys) * 7; }

void bench_engine(const Config& cfg, const std::string& name, omen::StorageEngine& db, Results& r) {
  for (uint64_t k = 0; k < cfg.keys;) {
    omen::WriteBatch b;
    for (int i = 0; i < 1000 && k < cfg.keys; ++i, ++k) b.put(skey(k * 7), value_for(k * 7));
    (void)db.write(b, {false});
  }
  r.add("get", name, measure(cfg, [&](auto& rng) {
          std::string v;
          (void)db.get(skey(pick(rng, cfg)), &v);
          return 1;
        }));
  r.add("put", name, measure(cfg, [&](auto& rng) {
          uint64_t k = pick(rng, cfg);
          (void)db.put(skey(k), value_for(k), {false});
          return 1;
        }));
  r.add("scan100", name, measure(cfg, [&](auto& rng) {
          auto it = db.new_iterator();
          int n = 0;
          for (it->seek(skey(pick(rng, cfg))); it->valid() && n < 100; it->next()) ++n;
          return 1;
        }));
  r.add("txn10 (batch, no SI)", name, measure(cfg, [&](auto& rng) {
          omen::WriteBatch b;
          std::string v;
          for (int i = 0; i < 5; ++i) {
            uint64_t k = pick(rng, cfg);
            (void)db.get(skey(k), &v);
            b.put(skey(k), v);
          }
          (void)db.write(b, {false});
          return 1;
        }));
}

void bench_tiered(const Config& cfg, const std::string& name, omen::TieredStore& t, Results& r, bool cold) {
  for (uint64_t k = 0; k < cfg.keys;) {
    auto txn = t.begin();
    for (int i = 0; i < 10000 && k < cfg.keys; ++i, ++k) (void)txn.put(k * 7, value_for(k * 7));
    (void)txn.commit();
  }
  if (cold) (void)t.migrate(0);
  if (!cfg.txn_only)
    r.add("get", name, measure(cfg, [&](auto& rng) {
            auto txn = t.begin();  // a snapshot per 100 reads
            std::string v;
            for (int i = 0; i < 100; ++i) (void)txn.get(pick(rng, cfg), &v);
            return 100;
          }));
  if (!cfg.txn_only)
    r.add("scan100", name, measure(cfg, [&](auto& rng) {
            auto txn = t.begin();
            int n = 0;
            uint64_t from = pick(rng, cfg);
            (void)txn.scan(from, UINT64_MAX, [&](uint64_t, std::string_view) { return ++n < 100; });
            return 1;
          }));
  if (cold) return;  // writes would bring the keys back to the hot tier
  if (!cfg.txn_only)
    r.add("put", name, measure(cfg, [&](auto& rng) {
            auto txn = t.begin();
            uint64_t k = pick(rng, cfg);
            (void)txn.put(k, value_for(k));
            return txn.commit().ok() ? 1 : 0;
          }));
  r.add("txn10", name, measure(cfg, [&](auto& rng) {
          auto txn = t.begin();
          std::string v;
          for (int i = 0; i < 5; ++i) {
            uint64_t k = pick(rng, cfg);
            (void)txn.get(k, &v);
            (void)txn.put(k, v);
          }
          return txn.commit().ok() ? 1 : 0;
        }));
}

void bench_otdb(const Config& cfg, const std::string& dir, Results& r, bool synced_only) {
  rocksdb::OptimisticTransactionDB* otdb = nullptr;
  auto st = rocksdb::OptimisticTransactionDB::Open(otdb_options(), dir, &otdb);
  if (!st.ok()) {
    std::fprintf(stderr, "OptimisticTransactionDB: %s\n", st.ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<rocksdb::OptimisticTransactionDB> guard(otdb);
  rocksdb::DB* db = otdb->GetBaseDB();
  rocksdb::WriteOptions wo;
  wo.sync = synced_only;
  const std::string name = "OptimisticTxnDB";
  for (uint64_t k = 0; k < cfg.keys;) {
    rocksdb::WriteBatch b;
    for (int i = 0; i < 1000 && k < cfg.keys; ++i, ++k) (void)b.Put(skey(k * 7), value_for(k * 7));
    (void)db->Write(rocksdb::WriteOptions(), &b);
  }
  auto txn10 = [&](auto& rng) {
    thread_local std::unique_ptr<rocksdb::Transaction> txn;
    rocksdb::OptimisticTransactionOptions to;
    to.set_snapshot = true;
    txn.reset(otdb->BeginTransaction(wo, to, txn.release()));
    rocksdb::ReadOptions ro;
    ro.snapshot = txn->GetSnapshot();
    std::string v;
    for (int i = 0; i < 5; ++i) {
      std::string k = skey(pick(rng, cfg));
      (void)txn->Get(ro, k, &v);
      (void)txn->Put(k, v);
    }
    bool ok = txn->Commit().ok();
    txn.reset();  // thread_local handles must not outlive the DB
    return ok ? 1 : 0;
  };
  if (synced_only) {
    r.add("txn10 synced", name, measure(cfg, txn10));
    return;
  }
  if (cfg.txn_only) {
    r.add("txn10", name, measure(cfg, txn10));
    return;
  }
  r.add("get", name, measure(cfg, [&](auto& rng) {
          std::string v;
          (void)db->Get(rocksdb::ReadOptions(), skey(pick(rng, cfg)), &v);
          return 1;
        }));
  r.add("put", name, measure(cfg, [&](auto& rng) {
          uint64_t k = pick(rng, cfg);
          (void)db->Put(wo, skey(k), value_for(k));
          return 1;
        }));
  r.add("scan100", name, measure(cfg, [&](auto& rng) {
          std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
          int n = 0;
          for (it->Seek(skey(pick(rng, cfg))); it->Valid() && n < 100; it->Next()) ++n;
          return 1;
        }));
  r.add("txn10", name, measure(cfg, txn10));
}

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: storage_bench [--keys N] [--seconds S] [--threads T] [--dir PATH] [--txn-only 0|1]\n"
               "  PATH is removed and recreated (default /tmp/omen-storage-bench)\n");
  std::exit(code);
}

Config parse_args(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage(0);
    if (i + 1 >= argc) {
      std::fprintf(stderr, "storage_bench: %s needs a value\n", a.c_str());
      usage(2);
    }
    const std::string v = argv[++i];
    try {
      if (a == "--keys")
        cfg.keys = std::stoull(v);
      else if (a == "--seconds")
        cfg.seconds = std::stod(v);
      else if (a == "--threads")
        cfg.threads = std::stoi(v);
      else if (a == "--dir")
        cfg.dir = v;
      else if (a == "--txn-only")
        cfg.txn_only = v == "1";
      else {
        std::fprintf(stderr, "storage_bench: unknown option %s\n", a.c_str());
        usage(2);
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "storage_bench: bad value for %s: %s\n", a.c_str(), v.c_str());
      usage(2);
    }
  }
  if (cfg.keys == 0 || cfg.threads < 1 || !(cfg.seconds > 0) || cfg.dir.empty()) {
    std::fprintf(stderr,
                 "storage_bench: --keys, --threads and --seconds must be positive, --dir not empty\n");
    usage(2);
  }
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv);
  namespace fs = std::filesystem;
  fs::remove_all(cfg.dir);
  fs::create_directories(cfg.dir);
  Results r;
  std::fprintf(stderr, "keys %llu, value 100 B, %d threads, %.1f s per cell\n",
               static_cast<unsigned long long>(cfg.keys), cfg.threads, cfg.seconds);
  bench_otdb(cfg, cfg.dir + "/otdb", r, false);
  if (!cfg.txn_only) {
    omen::MemoryStorage mem;
    bench_engine(cfg, "MemoryStorage", mem, r);
  }
  if (!cfg.txn_only) {
    std::unique_ptr<omen::RocksDBStorage> db;
    if (!omen::RocksDBStorage::open(cfg.dir + "/rocks", {}, &db).ok()) return 1;
    bench_engine(cfg, "RocksDBStorage", *db, r);
  }
  for (bool cold : {false, true}) {
    if (cold && cfg.txn_only) break;
    std::unique_ptr<omen::RocksDBStorage> db;
    if (!omen::RocksDBStorage::open(cfg.dir + (cold ? "/tier-cold" : "/tier-hot"), {}, &db).ok()) return 1;
    omen::TierOptions o;
    o.sync_commits = false;
    o.hot_max_keys = cfg.keys * 4;  // no automatic migration during the run
    std::unique_ptr<omen::TieredStore> t;
    if (!omen::TieredStore::open(db.get(), o, &t).ok()) return 1;
    bench_tiered(cfg, cold ? "Tiered(cold)" : "Tiered(hot)", *t, r, cold);
    if (!cold) {  // reopen the same store with synced commits
      t.reset();
      o.sync_commits = true;
      if (!omen::TieredStore::open(db.get(), o, &t).ok()) return 1;
      r.add("txn10 synced", "Tiered(hot)", measure(cfg, [&](auto& rng) {
              auto txn = t->begin();
              std::string v;
              for (int i = 0; i < 5; ++i) {
                uint64_t k = pick(rng, cfg);
                (void)txn.get(k, &v);
                (void)txn.put(k, v);
              }
              return txn.commit().ok() ? 1 : 0;
            }));
    }
  }
  bench_otdb(cfg, cfg.dir + "/otdb-sync", r, true);

  fs::create_directories("bench/out");
  std::ofstream csv("bench/out/storage_bench.csv");
  csv << "workload,engine,threads,ops_per_sec,ratio_vs_otdb,cpu_us_per_op\n";
  std::printf("\n%-22s", "ops/s (ratio to OTDB)");
  for (const auto& e : r.engines) std::printf(" %24s", e.c_str());
  std::printf("\n");
  for (const auto& w : r.workloads) {
    std::printf("%-22s", w.c_str());
    double base = r.ops[w].count("OptimisticTxnDB") ? r.ops[w]["OptimisticTxnDB"] : 0;
    for (const auto& e : r.engines) {
      if (!r.ops[w].count(e)) {
        std::printf(" %24s", "-");
        continue;
      }
      double v = r.ops[w][e];
      if (base > 0)
        std::printf(" %15.0f (%5.2fx)", v, v / base);
      else
        std::printf(" %15.0f %8s", v, "");
      csv << w << ',' << e << ',' << cfg.threads << ',' << static_cast<uint64_t>(v) << ',';
      if (base > 0) csv << v / base;
      csv << ',' << r.cpu[w][e] << '\n';
    }
    std::printf("\n");
  }
  // CPU per op: on a machine shared with other work, wall-clock rates follow the load; the CPU an
  // op costs (all threads of this process, background ones included) much less so.
  std::printf("\n%-22s", "CPU us per op");
  for (const auto& e : r.engines) std::printf(" %24s", e.c_str());
  std::printf("\n");
  for (const auto& w : r.workloads) {
    std::printf("%-22s", w.c_str());
    for (const auto& e : r.engines) {
      if (r.cpu[w].count(e))
        std::printf(" %24.2f", r.cpu[w][e]);
      else
        std::printf(" %24s", "-");
    }
    std::printf("\n");
  }
  if (r.cpu["txn10"].count("Tiered(hot)")) {
    double us = r.cpu["txn10"]["Tiered(hot)"];
    std::printf(
        "\ntxn10 on TieredStore: %.1f CPU us per transaction = %.0f transactions per CPU-second; "
        "%.0f/s if %d cores were all ours (target 50,000 on 2)\n",
        us, 1e6 / us, cfg.threads * 1e6 / us, cfg.threads);
  }
  fs::remove_all(cfg.dir);
  return 0;
}
