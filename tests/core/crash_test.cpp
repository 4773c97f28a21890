// Crash safety: a writer process is killed (SIGKILL) at random moments, hundreds of times, while
// it commits transactions, aborts others and migrates keys to cold runs. After each kill the store
// is reopened and must hold exactly the effects of the transactions committed so far: every one
// acknowledged to the parent, possibly the one in flight, never an aborted one, never half of one.
//
// The writer is this same test binary, started with OMEN_CRASH_CHILD_DIR set: a static
// initializer below runs the writer before GoogleTest's main and never returns (a fresh exec,
// not a bare fork, so RocksDB's threads are whole in the child).
#include <fcntl.h>
#include <poll.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "omen/rocksdb_storage.h"
#include "omen/tiered_store.h"
#include "test_util.h"

namespace {

using omen::Status;

constexpr uint64_t kLastKey = 0;  // value: number of the last committed transaction

omen::TierOptions crash_options() {
  omen::TierOptions o;
  o.sync_commits = true;
  o.hot_max_keys = 64;  // migrate often, so kills also land inside migrations
  o.min_age_commits = 4;
  o.gc_every_commits = 8;
  o.max_cold_runs = 3;  // and merge runs
  return o;
}

// The deterministic plan of transaction i (i >= 1).
bool plan_aborts(uint64_t i) { return i % 5 == 0; }
template <class Put, class Del>
void plan_apply(uint64_t i, Put put, Del del) {
  for (uint64_t j = 0; j < 4; ++j) put(i * 4 + j, std::to_string(i));
  if (i % 7 == 0 && i > 3)
    for (uint64_t j = 0; j < 4; ++j) del((i - 3) * 4 + j);
  put(kLastKey, std::to_string(i));
}

Status open_all(const std::string& dir, std::unique_ptr<omen::RocksDBStorage>* db,
                std::unique_ptr<omen::TieredStore>* t) {
  OMEN_RETURN_IF_ERROR(omen::RocksDBStorage::open(dir, {}, db));
  return omen::TieredStore::open(db->get(), crash_options(), t);
}

uint64_t last_committed(omen::TieredStore& t) {
  auto txn = t.begin();
  std::string v;
  return txn.get(kLastKey, &v).ok() ? std::stoull(v) : 0;
}

[[noreturn]] void writer_main(const char* dir, int ack_fd) {
  std::unique_ptr<omen::RocksDBStorage> db;
  std::unique_ptr<omen::TieredStore> t;
  if (!open_all(dir, &db, &t).ok()) _exit(3);
  if (write(ack_fd, "R\n", 2) != 2) _exit(5);  // recovered and ready
  for (uint64_t i = last_committed(*t) + 1;; ++i) {
    auto txn = t->begin();
    plan_apply(i, [&](uint64_t k, const std::string& v) { (void)txn.put(k, v); }, [&](uint64_t k) { (void)txn.del(k); });
    if (plan_aborts(i)) {
      // Aborted: skip the number so the plan of i stays "never visible".
      txn.abort();
      continue;
    }
    if (!txn.commit().ok()) _exit(4);
    std::string ack = std::to_string(i) + "\n";
    if (write(ack_fd, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) _exit(5);
  }
}

// Runs the writer instead of the tests when this binary was started as one.
const bool kIsWriter = [] {
  const char* dir = std::getenv("OMEN_CRASH_CHILD_DIR");
  const char* fd = std::getenv("OMEN_CRASH_CHILD_FD");
  if (dir && fd) writer_main(dir, std::atoi(fd));
  return false;
}();

std::map<uint64_t, std::string> expected_state(uint64_t last) {
  std::map<uint64_t, std::string> m;
  for (uint64_t i = 1; i <= last; ++i)
    if (!plan_aborts(i))
      plan_apply(i, [&](uint64_t k, const std::string& v) { m[k] = v; }, [&](uint64_t k) { m.erase(k); });
  return m;
}

TEST(CrashTest, KilledWriterLosesNoCommitAndShowsNoUncommittedWork) {
  (void)kIsWriter;
  omen::test::ScratchDir d;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const int kKills = 80;
#else
  const int kKills = 300;
#endif
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(75);
  std::mt19937_64 rng(42);
  uint64_t acked_total = 0, last = 0;
  int kills = 0;
  bool saw_cold = false;  // the writer's migrations reached the store
  std::string exe = "/proc/self/exe";
  for (; kills < kKills && std::chrono::steady_clock::now() < deadline; ++kills) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::string env_dir = "OMEN_CRASH_CHILD_DIR=" + d.path(), env_fd = "OMEN_CRASH_CHILD_FD=" + std::to_string(fds[1]);
    char* argv[] = {exe.data(), nullptr};
    char* envp[] = {env_dir.data(), env_fd.data(), nullptr};
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      execve(exe.c_str(), argv, envp);
      _exit(127);
    }
    close(fds[1]);
    std::string acks;
    char buf[4096];
    if (rng() % 8 == 0) {  // kill during start-up and recovery
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50000));
    } else {  // kill while committing: wait for "ready" (sanitizer builds start slowly)
      pollfd p{fds[0], POLLIN, 0};
      while (acks.find("R\n") == std::string::npos && poll(&p, 1, 20000) > 0) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        acks.append(buf, static_cast<size_t>(n));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the writer exited by itself with status " << WEXITSTATUS(wstatus);
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) acks.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    uint64_t acked = last;  // the newest transaction the writer reported committed
    for (size_t at = 0, nl; (nl = acks.find('\n', at)) != std::string::npos; at = nl + 1) {
      if (acks[at] == 'R') continue;
      acked = std::stoull(acks.substr(at, nl - at));
      ++acked_total;
    }

    std::unique_ptr<omen::RocksDBStorage> db;
    std::unique_ptr<omen::TieredStore> t;
    Status s = open_all(d.path(), &db, &t);
    ASSERT_TRUE(s.ok()) << "reopen after kill " << kills << ": " << s.to_string();
    last = last_committed(*t);
    ASSERT_GE(last, acked) << "an acknowledged commit was lost (kill " << kills << ")";
    ASSERT_LE(last, acked + 2) << "more than the in-flight transaction appeared";  // +1 skips an abort
    std::map<uint64_t, std::string> got;
    auto txn = t->begin();
    ASSERT_TRUE(txn.scan(0, UINT64_MAX, [&](uint64_t k, std::string_view v) { return got.emplace(k, v), true; }).ok());
    ASSERT_EQ(got, expected_state(last)) << "state after kill " << kills << " is not the committed prefix";
    saw_cold |= t->stats().cold_keys > 0;
  }
  EXPECT_GE(kills, 50);
  EXPECT_GT(acked_total, 100u) << "the writer hardly committed anything";
  EXPECT_TRUE(saw_cold) << "no kill ever found a cold run: migration was not exercised";
  std::cout << kills << " kills, " << acked_total << " acknowledged commits, last transaction " << last << "\n";
}

}  // namespace
