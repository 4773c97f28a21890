// omen_kv (core/tools/omen_kv.cpp), run as a program: load a CSV, get, range, migrate, stats, and
// the exit statuses for a missing key, bad usage and a foreign directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_util.h"

namespace {

// The tool sits in <build>/core/, this binary in <build>/tests/.
std::string tool_path() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / ".." / "core" / "omen_kv").string();
}

// Runs the tool with `args`; returns its exit status and stdout.
int run(const std::string& args, std::string* out) {
  std::string cmd = tool_path() + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  out->clear();
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(OmenKvToolTest, LoadGetRangeMigrateStats) {
  ASSERT_TRUE(std::filesystem::exists(tool_path())) << tool_path() << " was not built";
  omen::test::ScratchDir d;
  {
    std::ofstream csv(d.sub("rows.csv"));
    csv << "id,name\n";
    for (int i = -50; i < 50; ++i) csv << i << ",row " << i << "\n";
  }
  std::string db = d.sub("db"), out;
  ASSERT_EQ(run(db + " load " + d.sub("rows.csv"), &out), 0);
  EXPECT_EQ(out, "loaded 100 rows\n");
  ASSERT_EQ(run(db + " get -7", &out), 0);
  EXPECT_EQ(out, "row -7\n");
  ASSERT_EQ(run(db + " range -2 1", &out), 0);
  EXPECT_EQ(out, "-2,row -2\n-1,row -1\n0,row 0\n1,row 1\n");
  ASSERT_EQ(run(db + " migrate", &out), 0);
  EXPECT_EQ(out, "moved 100 keys to the cold tier\n");
  ASSERT_EQ(run(db + " put 3 three", &out), 0);
  ASSERT_EQ(run(db + " range 2 4", &out), 0);
  EXPECT_EQ(out, "2,row 2\n3,three\n4,row 4\n");
  ASSERT_EQ(run(db + " del 4", &out), 0);
  EXPECT_EQ(run(db + " get 4", &out), 1);
  ASSERT_EQ(run(db + " stats", &out), 0);
  EXPECT_NE(out.find("cold keys: 100"), std::string::npos) << out;
  EXPECT_EQ(run(db + " frobnicate", &out), 2);
  EXPECT_EQ(run(d.path() + " get 1", &out), 3) << "a directory holding other files must be refused";
}

}  // namespace
