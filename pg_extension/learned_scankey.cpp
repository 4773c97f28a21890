// Scan-key preprocessing of the `learned` index (learned_scan.h): the scan keys of a (re)scan,
// including `= ANY(array)` and IS [NOT] NULL, reduced to sorted, disjoint, inclusive ranges of
// encoded keys plus "want NULLs". Contradictory keys give no range at all.
#include "learned_scan.h"

#include <algorithm>

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace learned_scan {

namespace {

// Narrows [*lo, *hi] by `key op v`; returns false when nothing can match. Keys of an inexact type
// (a prefix: omen_key_type_exact) bound < and > inclusively: a value above v may share v's key.
bool apply_bound(StrategyNumber op, uint64 v, bool exact, uint64* lo, uint64* hi) {
  if (!exact && op == BTLessStrategyNumber) op = BTLessEqualStrategyNumber;
  if (!exact && op == BTGreaterStrategyNumber) op = BTGreaterEqualStrategyNumber;
  switch (op) {
    case BTLessStrategyNumber:
      if (v == 0) return false;
      *hi = Min(*hi, v - 1);
      break;
    case BTLessEqualStrategyNumber:
      *hi = Min(*hi, v);
      break;
    case BTEqualStrategyNumber:
      *lo = Max(*lo, v);
      *hi = Min(*hi, v);
      break;
    case BTGreaterEqualStrategyNumber:
      *lo = Max(*lo, v);
      break;
    case BTGreaterStrategyNumber:
      if (v == PG_UINT64_MAX) return false;
      *lo = Max(*lo, v + 1);
      break;
    default:
      elog(ERROR, "learned index: unexpected strategy %d", op);
  }
  return *lo <= *hi;
}

// Encoded non-NULL elements of an array scan key, sorted and deduplicated.
uint64* array_keys(ScanKey sk, Oid elemtype, int* n) {
  ArrayType* arr = DatumGetArrayTypeP(sk->sk_argument);
  int16 typlen;
  bool byval;
  char align;
  get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &byval, &align);
  Datum* elems;
  bool* nulls;
  int nelems;
  deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, byval, align, &elems, &nulls, &nelems);
  uint64* out = static_cast<uint64*>(palloc(sizeof(uint64) * Max(nelems, 1)));
  int m = 0;
  for (int i = 0; i < nelems; i++)
    if (!nulls[i]) out[m++] = omen_key_encode(elems[i], elemtype);
  std::sort(out, out + m);
  *n = static_cast<int>(std::unique(out, out + m) - out);
  return out;
}

}  // namespace

void setup_ranges(IndexScanDesc scan, ScanOpaque* so) {
  uint64 lo = 0, hi = PG_UINT64_MAX;
  bool ok = true, null_only = false, not_null = false, any_value_key = false;
  uint64* points = nullptr;
  int npoints = -1;  // -1: no equality array
  for (int i = 0; i < scan->numberOfKeys && ok; i++) {
    ScanKey sk = &scan->keyData[i];
    if (sk->sk_flags & SK_ISNULL) {
      if (sk->sk_flags & SK_SEARCHNULL)
        null_only = true;
      else if (sk->sk_flags & SK_SEARCHNOTNULL)
        not_null = true;
      else
        ok = false;  // strict operator with a NULL argument
      continue;
    }
    any_value_key = true;
    Oid argtype = OidIsValid(sk->sk_subtype) ? sk->sk_subtype : so->type;
    if (sk->sk_flags & SK_SEARCHARRAY) {
      int n;
      uint64* vals = array_keys(sk, argtype, &n);
      if (n == 0) {
        ok = false;
        break;
      }
      if (sk->sk_strategy == BTEqualStrategyNumber) {
        if (npoints < 0) {
          points = vals;
          npoints = n;
        } else {  // intersect two sorted sets
          npoints = static_cast<int>(std::set_intersection(points, points + npoints, vals, vals + n, points) -
                                     points);
        }
      } else if (sk->sk_strategy == BTLessStrategyNumber || sk->sk_strategy == BTLessEqualStrategyNumber) {
        ok = apply_bound(sk->sk_strategy, vals[n - 1], so->exact, &lo, &hi);  // x < ANY(a) <=> x < max(a)
      } else {
        ok = apply_bound(sk->sk_strategy, vals[0], so->exact, &lo, &hi);  // x > ANY(a) <=> x > min(a)
      }
      continue;
    }
    ok = apply_bound(sk->sk_strategy, omen_key_encode(sk->sk_argument, argtype), so->exact, &lo, &hi);
  }
  so->nranges = 0;
  so->want_nulls = false;
  if (!ok || (null_only && (not_null || any_value_key))) return;
  if (null_only) {
    so->want_nulls = true;
    return;
  }
  so->want_nulls = !not_null && !any_value_key;
  if (npoints >= 0) {
    so->ranges = static_cast<Range*>(palloc(sizeof(Range) * Max(npoints, 1)));
    for (int i = 0; i < npoints; i++)
      if (points[i] >= lo && points[i] <= hi) so->ranges[so->nranges++] = Range{points[i], points[i]};
  } else {
    so->ranges = static_cast<Range*>(palloc(sizeof(Range)));
    so->ranges[0] = Range{lo, hi};
    so->nranges = 1;
  }
}

}  // namespace learned_scan
