// Crash safety: a writer process is killed (SIGKILL) at random moments, hundreds of times, while
// two of its threads commit transactions concurrently, abort others and migrate keys to cold
// runs. After each kill the store is reopened and must hold exactly the effects of the
// transactions committed so far: every one acknowledged to the parent, possibly each thread's one
// in flight, never an aborted one, never half of one.
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
#include <algorithm>

#include "omen/rocksdb_storage.h"
#include "omen/tiered_store.h"
#include "test_util.h"

namespace {

using omen::Status;

// Two writer threads commit concurrently (the commit path writes to storage in parallel and
// publishes in timestamp order), each in its own key space: thread w owns keys w << 40 ... and
// keeps the number of its last committed transaction at key w << 40.
constexpr int kWriters = 2;
constexpr uint64_t space(int w) { return static_cast<uint64_t>(w) << 40; }

omen::TierOptions crash_options() {
  omen::TierOptions o;
  o.sync_commits = true;
  o.hot_max_keys = 64;  // migrate often, so kills also land inside migrations
  o.min_age_commits = 4;
  o.gc_every_commits = 8;
  o.max_cold_runs = 3;  // and merge runs
  return o;
}

// The deterministic plan of writer w's transaction i (i >= 1).
bool plan_aborts(uint64_t i) { return i % 5 == 0; }
template <class Put, class Del>
void plan_apply(int w, uint64_t i, Put put, Del del) {
  for (uint64_t j = 0; j < 4; ++j) put(space(w) + i * 4 + j, std::to_string(i));
  if (i % 7 == 0 && i > 3)
    for (uint64_t j = 0; j < 4; ++j) del(space(w) + (i - 3) * 4 + j);
  put(space(w), std::to_string(i));
}

Status open_all(const std::string& dir, std::unique_ptr<omen::RocksDBStorage>* db,
                std::unique_ptr<omen::TieredStore>* t) {
  OMEN_RETURN_IF_ERROR(omen::RocksDBStorage::open(dir, {}, db));
  return omen::TieredStore::open(db->get(), crash_options(), t);
}

uint64_t last_committed(omen::TieredStore& t, int w) {
  auto txn = t.begin();
  std::string v;
  return txn.get(space(w), &v).ok() ? std::stoull(v) : 0;
}

[[noreturn]] void writer_main(const char* dir, int ack_fd) {
  std::unique_ptr<omen::RocksDBStorage> db;
  std::unique_ptr<omen::TieredStore> t;
  if (!open_all(dir, &db, &t).ok()) _exit(3);
  if (write(ack_fd, "R\n", 2) != 2) _exit(5);  // recovered and ready
  auto writer = [&](int w) {
    for (uint64_t i = last_committed(*t, w) + 1;; ++i) {
      auto txn = t->begin();
      plan_apply(
          w, i, [&](uint64_t k, const std::string& v) { (void)txn.put(k, v); },
          [&](uint64_t k) { (void)txn.del(k); });
      if (plan_aborts(i)) {
        // Aborted: skip the number so the plan of i stays "never visible".
        txn.abort();
        continue;
      }
      if (!txn.commit().ok()) _exit(4);
      // "w i": one write(2) of a few bytes, atomic on a pipe.
      std::string ack = std::to_string(w) + " " + std::to_string(i) + "\n";
      if (write(ack_fd, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) _exit(5);
    }
  };
  std::thread other(writer, 1);
  writer(0);
  other.join();
  _exit(6);
}

// Runs the writer instead of the tests when this binary was started as one.
const bool kIsWriter = [] {
  const char* dir = std::getenv("OMEN_CRASH_CHILD_DIR");
  const char* fd = std::getenv("OMEN_CRASH_CHILD_FD");
  if (dir && fd) writer_main(dir, std::atoi(fd));
  return false;
}();

void expected_state(int w, uint64_t last, std::map<uint64_t, std::string>* m) {
  for (uint64_t i = 1; i <= last; ++i)
    if (!plan_aborts(i))
      plan_apply(
          w, i, [&](uint64_t k, const std::string& v) { (*m)[k] = v; }, [&](uint64_t k) { m->erase(k); });
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
  uint64_t acked_total = 0, last[kWriters] = {};
  int kills = 0;
  bool saw_cold = false;  // the writer's migrations reached the store
  std::string exe = "/proc/self/exe";
  for (; kills < kKills && std::chrono::steady_clock::now() < deadline; ++kills) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::string env_dir = "OMEN_CRASH_CHILD_DIR=" + d.path(),
                env_fd = "OMEN_CRASH_CHILD_FD=" + std::to_string(fds[1]);
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
    uint64_t acked[kWriters];  // per writer thread, the newest transaction reported committed
    std::copy(last, last + kWriters, acked);
    for (size_t at = 0, nl; (nl = acks.find('\n', at)) != std::string::npos; at = nl + 1) {
      if (acks[at] == 'R') continue;
      int w = acks[at] - '0';
      ASSERT_TRUE(w >= 0 && w < kWriters) << acks.substr(at, nl - at);
      acked[w] = std::stoull(acks.substr(at + 2, nl - at - 2));
      ++acked_total;
    }

    std::unique_ptr<omen::RocksDBStorage> db;
    std::unique_ptr<omen::TieredStore> t;
    Status s = open_all(d.path(), &db, &t);
    ASSERT_TRUE(s.ok()) << "reopen after kill " << kills << ": " << s.to_string();
    std::map<uint64_t, std::string> want, got;
    for (int w = 0; w < kWriters; ++w) {
      last[w] = last_committed(*t, w);
      ASSERT_GE(last[w], acked[w]) << "writer " << w << " lost an acknowledged commit (kill " << kills << ")";
      // Each writer has at most one transaction in flight (+1 more number if it skipped an abort).
      ASSERT_LE(last[w], acked[w] + 2) << "more than writer " << w << "'s in-flight transaction appeared";
      expected_state(w, last[w], &want);
    }
    auto txn = t->begin();
    ASSERT_TRUE(
        txn.scan(0, UINT64_MAX, [&](uint64_t k, std::string_view v) { return got.emplace(k, v), true; })
            .ok());
    ASSERT_EQ(got, want) << "state after kill " << kills << " is not each writer's committed prefix";
    saw_cold |= t->stats().cold_keys > 0;
  }
  EXPECT_GE(kills, 50);
  EXPECT_GT(acked_total, 100u) << "the writer hardly committed anything";
  EXPECT_TRUE(saw_cold) << "no kill ever found a cold run: migration was not exercised";
  std::cout << kills << " kills, " << acked_total << " acknowledged commits, last transactions " << last[0]
            << ", " << last[1] << "\n";
}

}  // namespace
