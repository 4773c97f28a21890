// Parallel scans of the `learned` index (learned_scan.h): the shared state, and taking the next
// unit in key order.
#include "learned_scan.h"

extern "C" {
#include "access/relscan.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "utils/wait_event.h"
}

namespace learned_scan {

namespace {

// A parallel scan's shared state: the participants take units in key order, one at a time. The
// one whose turn it is (kParBusy) finds the unit after `last`, copies it into its own batch and
// publishes it as `last`; the others wait on `cv`. Each participant thus returns an ordered
// subsequence (Gather Merge keeps ORDER BY). Every participant derives the same ranges from the
// same scan keys. A descent's generation (in `last.unit.map`) is shared, so all participants
// read one generation per range, which a re-train leaves intact while the query's snapshot lives.
enum ParState { kParNotStarted = 0, kParIdle, kParBusy, kParDone };

struct ParallelShared {
  slock_t mutex;
  ConditionVariable cv;
  ParState state;
  UnitPos last;  // the unit taken last (valid in kParIdle)
};

ParallelShared* parallel_shared(IndexScanDesc scan) {
  return reinterpret_cast<ParallelShared*>(
      OffsetToPointer(scan->parallel_scan, scan->parallel_scan->ps_offset));
}

}  // namespace

bool parallel_advance(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir) {
  ParallelShared* ps = parallel_shared(scan);
  ParState was;
  UnitPos last;
  for (;;) {
    SpinLockAcquire(&ps->mutex);
    was = ps->state;
    if (was != kParBusy) {
      if (was != kParDone) ps->state = kParBusy;
      last = ps->last;
      SpinLockRelease(&ps->mutex);
      break;
    }
    SpinLockRelease(&ps->mutex);
    ConditionVariableSleep(&ps->cv, PG_WAIT_EXTENSION);
  }
  ConditionVariableCancelSleep();
  if (was == kParDone) return false;
  Unit u;
  bool any = following_unit(scan, so, dir, was == kParNotStarted ? nullptr : &last, &u);
  if (any) load_unit(scan, so, u);
  SpinLockAcquire(&ps->mutex);
  ps->state = any ? kParIdle : kParDone;
  if (any) ps->last = so->cur.at;
  SpinLockRelease(&ps->mutex);
  ConditionVariableBroadcast(&ps->cv);
  return any;
}

}  // namespace learned_scan

using namespace learned_scan;

extern "C" Size learned_estimateparallelscan(void) { return sizeof(ParallelShared); }

extern "C" void learned_initparallelscan(void* target) {
  auto* ps = static_cast<ParallelShared*>(target);
  SpinLockInit(&ps->mutex);
  ConditionVariableInit(&ps->cv);
  ps->state = kParNotStarted;
}

// Called by the leader alone, with no worker running.
extern "C" void learned_parallelrescan(IndexScanDesc scan) {
  ParallelShared* ps = parallel_shared(scan);
  SpinLockAcquire(&ps->mutex);
  ps->state = kParNotStarted;
  SpinLockRelease(&ps->mutex);
}
