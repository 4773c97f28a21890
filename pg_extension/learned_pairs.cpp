// The (key, TID) pairs a build or a re-train writes, sorted by (key, TID) within a memory budget
// (learned.h, learned_pairs.h).
//
// Pairs are kept in one palloc'd array while the array (16 B per pair) and the TID array the
// writer splits off it (6 B per pair) fit in the budget (maintenance_work_mem): then
// learned_pairs_sort sorts them with std::sort and the writer reads keys[] and tids[] directly
// (the fast path). A pair beyond the budget moves everything into a tuplesort, which spills to
// temporary files as btree's build does; the writer then reads the sorted pairs as a stream,
// twice (learned_pairs_rescan). The tuplesort sorts each pair as one 16-byte uuid datum, key then
// block then offset, big-endian, whose bytewise order (uuid's btree order) is the (key, TID) order.
// Pairs that arrive already in (key, TID) order (a table loaded in key order: serial ids,
// timestamps) need no sort: beyond the budget they go to a plain temporary file, read back the
// same way, until one arrives out of order, which moves the file into a tuplesort.
#include "learned_pairs.h"

#include <algorithm>

extern "C" {
#include "catalog/pg_type_d.h"
#include "utils/typcache.h"
#include "utils/uuid.h"
}

namespace {

// In memory a pair is two words, TID (block << 16 | offset) then key, sorted as one 128-bit number
// with the key in the high half.
struct ArrayPair {
  uint64 tid;
  uint64 key;
  bool operator<(const ArrayPair& o) const { return key != o.key ? key < o.key : tid < o.tid; }
};
static_assert(sizeof(ArrayPair) == 2 * sizeof(uint64));

uint64 pack_tid(const ItemPointerData* tid) {
  return (static_cast<uint64>(ItemPointerGetBlockNumberNoCheck(tid)) << 16) |
         ItemPointerGetOffsetNumberNoCheck(tid);
}

// The uuid datum of a pair: key, block, offset big-endian, then two zero bytes.
void encode_uuid(uint64 key, uint64 packed_tid, pg_uuid_t* out) {
  for (int i = 0; i < 8; i++) out->data[i] = static_cast<unsigned char>(key >> (56 - 8 * i));
  for (int i = 0; i < 6; i++) out->data[8 + i] = static_cast<unsigned char>(packed_tid >> (40 - 8 * i));
  out->data[14] = out->data[15] = 0;
}

void decode_uuid(const pg_uuid_t* u, uint64* key, ItemPointerData* tid) {
  uint64 k = 0, t = 0;
  for (int i = 0; i < 8; i++) k = k << 8 | u->data[i];
  for (int i = 0; i < 6; i++) t = t << 8 | u->data[8 + i];
  *key = k;
  ItemPointerSet(tid, static_cast<BlockNumber>(t >> 16), static_cast<OffsetNumber>(t & 0xFFFF));
}

void put_sorted(Tuplesortstate* sort, uint64 key, uint64 packed_tid) {
  pg_uuid_t u;
  encode_uuid(key, packed_tid, &u);
  tuplesort_putdatum(sort, PointerGetDatum(&u), false);
}

void begin_sort(LearnedPairs* p) {
  Oid lt = lookup_type_cache(UUIDOID, TYPECACHE_LT_OPR)->lt_opr;
  if (!OidIsValid(lt)) elog(ERROR, "no ordering operator for type uuid");
  p->sort =
      tuplesort_begin_datum(UUIDOID, lt, InvalidOid, false, p->work_mem_kb, nullptr, TUPLESORT_RANDOMACCESS);
}

// Moves the in-memory pairs (the budget is full) into a tuplesort, or into a temporary file when
// they all arrived in order.
void spill(LearnedPairs* p) {
  auto* pairs = reinterpret_cast<ArrayPair*>(p->array);
  if (p->in_order) {
    p->file = BufFileCreateTemp(false);
    BufFileWrite(p->file, pairs, p->n * sizeof(ArrayPair));
  } else {
    begin_sort(p);
    for (Size i = 0; i < p->n; i++) put_sorted(p->sort, pairs[i].key, pairs[i].tid);
  }
  pfree(p->array);
  p->array = nullptr;
}

bool read_file_pair(BufFile* file, ArrayPair* a) {
  size_t got = BufFileRead(file, a, sizeof *a);
  if (got == 0) return false;
  if (got != sizeof *a)
    ereport(ERROR, (errcode_for_file_access(), errmsg("could not read learned index build temporary file")));
  return true;
}

void rewind_file(BufFile* file) {
  if (BufFileSeek(file, 0, 0, SEEK_SET) != 0)
    ereport(ERROR,
            (errcode_for_file_access(), errmsg("could not seek in learned index build temporary file")));
}

// A pair arrived out of order after the in-order pairs went to a file: move them into a tuplesort.
void file_to_sort(LearnedPairs* p) {
  begin_sort(p);
  rewind_file(p->file);
  for (ArrayPair a; read_file_pair(p->file, &a);) put_sorted(p->sort, a.key, a.tid);
  BufFileClose(p->file);
  p->file = nullptr;
}

}  // namespace

LearnedPairs* learned_pairs_begin(int work_mem_kb) {
  auto* p = static_cast<LearnedPairs*>(palloc0(sizeof(LearnedPairs)));
  p->work_mem_kb = work_mem_kb;
  // The sorted path holds the pairs (16 B) and the TIDs split off them (6 B) at once.
  p->limit = Max(static_cast<Size>(work_mem_kb) * 1024 / (sizeof(ArrayPair) + sizeof(ItemPointerData)), 1024);
  p->cap = 1024;
  p->array = static_cast<uint64*>(palloc(p->cap * sizeof(ArrayPair)));
  p->in_order = true;
  return p;
}

void learned_pairs_put(LearnedPairs* p, uint64 key, const ItemPointerData* tid) {
  p->max_block = Max(p->max_block, ItemPointerGetBlockNumberNoCheck(tid));
  p->max_offset = Max(p->max_offset, ItemPointerGetOffsetNumberNoCheck(tid));
  uint64 t = pack_tid(tid);
  bool next_in_order = p->n == 0 || key > p->last_key || (key == p->last_key && t > p->last_tid);
  p->last_key = key;
  p->last_tid = t;
  if (!next_in_order && p->file != nullptr) file_to_sort(p);
  p->in_order = p->in_order && next_in_order;
  if (p->array != nullptr && p->n == p->limit) spill(p);
  if (p->sort != nullptr) {
    put_sorted(p->sort, key, t);
  } else if (p->file != nullptr) {
    ArrayPair a{t, key};
    BufFileWrite(p->file, &a, sizeof a);
  } else {
    if (p->n == p->cap) {
      p->cap = Min(p->cap * 2, p->limit);
      p->array = static_cast<uint64*>(repalloc_huge(p->array, p->cap * sizeof(ArrayPair)));
    }
    reinterpret_cast<ArrayPair*>(p->array)[p->n] = ArrayPair{t, key};
  }
  p->n++;
}

void learned_pairs_sort(LearnedPairs* p, const char* what) {
  if (p->file != nullptr) {
    rewind_file(p->file);
    ereport(DEBUG1, (errmsg_internal(
                        "%s: %zu pairs in key order, kept in a temporary file (maintenance_work_mem %d kB)",
                        what, p->n, p->work_mem_kb)));
    return;
  }
  if (p->sort != nullptr) {
    tuplesort_performsort(p->sort);
    ereport(DEBUG1, (errmsg_internal("%s: %zu pairs sorted externally (maintenance_work_mem %d kB)", what,
                                     p->n, p->work_mem_kb)));
    return;
  }
  // A heap scan of a key-ordered table yields sorted pairs: checked first.
  auto* pairs = reinterpret_cast<ArrayPair*>(p->array);
  if (!std::is_sorted(pairs, pairs + p->n)) std::sort(pairs, pairs + p->n);
  // Split into keys (in place, over the pairs) and TIDs.
  p->tids =
      static_cast<ItemPointerData*>(palloc_extended(Max(p->n, 1) * sizeof(ItemPointerData), MCXT_ALLOC_HUGE));
  p->keys = p->array;
  for (Size i = 0; i < p->n; i++) {
    ArrayPair a = pairs[i];  // read before keys[i] overwrites pairs[i / 2]'s bytes
    ItemPointerSet(&p->tids[i], static_cast<BlockNumber>(a.tid >> 16),
                   static_cast<OffsetNumber>(a.tid & 0xFFFF));
    p->keys[i] = a.key;
  }
  ereport(DEBUG1, (errmsg_internal("%s: %zu pairs sorted in memory", what, p->n)));
}

bool learned_pairs_next(LearnedPairs* p, uint64* key, ItemPointerData* tid) {
  if (p->file != nullptr) {
    ArrayPair a;
    if (!read_file_pair(p->file, &a)) return false;
    *key = a.key;
    ItemPointerSet(tid, static_cast<BlockNumber>(a.tid >> 16), static_cast<OffsetNumber>(a.tid & 0xFFFF));
    return true;
  }
  if (p->sort == nullptr) {
    if (p->read_pos == p->n) return false;
    *key = p->keys[p->read_pos];
    *tid = p->tids[p->read_pos];
    p->read_pos++;
    return true;
  }
  Datum d;
  bool isnull;
  if (!tuplesort_getdatum(p->sort, true, &d, &isnull, nullptr)) return false;
  decode_uuid(DatumGetUUIDP(d), key, tid);
  pfree(DatumGetPointer(d));  // a copy in our context
  return true;
}

void learned_pairs_rescan(LearnedPairs* p) {
  p->read_pos = 0;
  if (p->sort != nullptr) tuplesort_rescan(p->sort);
  if (p->file != nullptr) rewind_file(p->file);
}

Size learned_pairs_count(const LearnedPairs* p) { return p->n; }

void learned_pairs_end(LearnedPairs* p) {
  if (p->sort != nullptr) tuplesort_end(p->sort);
  if (p->file != nullptr) BufFileClose(p->file);
  if (p->array != nullptr) pfree(p->array);
  if (p->tids != nullptr) pfree(p->tids);
  pfree(p);
}
