// TimestampOracle and TimestampSnapshot: the GC horizon and the visibility rule.
#include <gtest/gtest.h>

#include "omen/timestamp_oracle.h"
#include "omen/visibility.h"

namespace {

using omen::TimestampOracle;
using omen::TimestampSnapshot;
using omen::VersionStamp;

TEST(TimestampSnapshotTest, SeesExactlyVersionsLiveAtItsTimestamp) {
  TimestampSnapshot s(10);
  EXPECT_TRUE(s.visible(VersionStamp{10}));                  // committed at the snapshot
  EXPECT_TRUE(s.visible(VersionStamp{3, 11}));               // superseded after it
  EXPECT_FALSE(s.visible(VersionStamp{3, 10}));              // superseded at it
  EXPECT_FALSE(s.visible(VersionStamp{11}));                 // committed after it
  EXPECT_TRUE(s.visible(VersionStamp{1, omen::kLiveXmax}));  // never superseded
}

TEST(TimestampOracleTest, OldestActiveIsTheGcHorizon) {
  TimestampOracle o(5);  // recovered: last commit at 5
  EXPECT_EQ(o.published(), 5u);
  EXPECT_EQ(o.oldest_active(), 5u);  // nobody reads: everything up to 5 is collectable
  auto r1 = o.begin();
  EXPECT_EQ(r1, 5u);
  auto t = o.allocate();
  EXPECT_EQ(t, 6u);
  EXPECT_EQ(o.begin(), 5u) << "an unpublished commit is not visible to new snapshots";
  o.publish(t);
  auto r3 = o.begin();
  EXPECT_EQ(r3, 6u);
  EXPECT_EQ(o.oldest_active(), 5u);
  EXPECT_EQ(o.active_count(), 3u);
  o.end(r1);
  EXPECT_EQ(o.oldest_active(), 5u);  // the second snapshot at 5 is still live
  o.end(5);
  EXPECT_EQ(o.oldest_active(), 6u);
  o.end(r3);
  EXPECT_EQ(o.active_count(), 0u);
  o.restore(42);
  EXPECT_EQ(o.allocate(), 43u);
}

}  // namespace
