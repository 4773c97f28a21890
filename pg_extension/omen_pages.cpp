// Pages of an access method's relation (omen_pages.h).
#include "omen_pages.h"

extern "C" {
#include "access/xloginsert.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
}

void omen_extend_page(Relation rel, ForkNumber fork, Page image, BlockNumber expect) {
  bool need_lock = !RELATION_IS_LOCAL(rel);
  if (need_lock) LockRelationForExtension(rel, ExclusiveLock);
  Buffer buf = ReadBufferExtended(rel, fork, P_NEW, RBM_NORMAL, nullptr);
  if (need_lock) UnlockRelationForExtension(rel, ExclusiveLock);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  if (BufferGetBlockNumber(buf) != expect)
    elog(ERROR, "learned index \"%s\": new block %u, expected %u", RelationGetRelationName(rel),
         BufferGetBlockNumber(buf), expect);
  memcpy(BufferGetPage(buf), image, BLCKSZ);
  MarkBufferDirty(buf);
  UnlockReleaseBuffer(buf);
}

void omen_put_page(Relation rel, ForkNumber fork, Page image, BlockNumber blkno) {
  if (blkno >= RelationGetNumberOfBlocksInFork(rel, fork)) {
    omen_extend_page(rel, fork, image, blkno);
    return;
  }
  Buffer buf = ReadBufferExtended(rel, fork, blkno, RBM_NORMAL, nullptr);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  memcpy(BufferGetPage(buf), image, BLCKSZ);
  MarkBufferDirty(buf);
  UnlockReleaseBuffer(buf);
}

void omen_log_new_pages(Relation rel, ForkNumber fork, BlockNumber start, BlockNumber end) {
  if (start < end && (fork == INIT_FORKNUM || RelationNeedsWAL(rel)))
    log_newpage_range(rel, fork, start, end, true);
}

Buffer omen_new_buffer(Relation rel, bool (*is_free)(Page page)) {
  for (;;) {
    BlockNumber blkno = GetFreeIndexPage(rel);
    if (blkno == InvalidBlockNumber) break;
    Buffer buf = ReadBuffer(rel, blkno);
    if (ConditionalLockBuffer(buf)) {
      if (is_free(BufferGetPage(buf))) return buf;
      LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    }
    ReleaseBuffer(buf);
  }
  bool need_lock = !RELATION_IS_LOCAL(rel);
  if (need_lock) LockRelationForExtension(rel, ExclusiveLock);
  Buffer buf = ReadBuffer(rel, P_NEW);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  if (need_lock) UnlockRelationForExtension(rel, ExclusiveLock);
  return buf;
}
