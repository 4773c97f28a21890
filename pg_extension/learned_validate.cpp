// amvalidate of the `learned` index: checks an operator class and its family.
//
// A learned operator family holds, for (lefttype, righttype) pairs of key types the AM can encode,
// btree-compatible operators with strategies 1..5 (< <= = >= >) returning bool, and support
// function 1: the btree comparison function int4(lefttype, righttype). Each opclass must have all
// five strategies and support function 1 for (opcintype, opcintype). Problems are reported with
// INFO messages (as the core AMs do) and the result is false.
#include "learned.h"

extern "C" {
#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "catalog/pg_am_d.h"
#include "commands/defrem.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type_d.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
}

namespace {

// The btree operator family that orders `type` by default (InvalidOid if none).
Oid btree_family(Oid type) {
  Oid opclass = GetDefaultOpClass(type, BTREE_AM_OID);
  return OidIsValid(opclass) ? get_opclass_family(opclass) : InvalidOid;
}

// True when `opr` is the btree operator of `strategy` for (left, right): the learned index
// answers with the order of the key encoding, which is the default btree order of the type.
bool is_btree_operator(Oid opr, Oid left, Oid right, int16 strategy) {
  Oid family = btree_family(left);
  return OidIsValid(family) && get_opfamily_member(family, left, right, strategy) == opr;
}

// True when `proc` is the btree comparison function for (left, right).
bool is_btree_cmp(Oid proc, Oid left, Oid right) {
  Oid family = btree_family(left);
  return OidIsValid(family) && get_opfamily_proc(family, left, right, BTORDER_PROC) == proc;
}

}  // namespace

extern "C" bool learned_validate(Oid opclass) {
  HeapTuple classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
  if (!HeapTupleIsValid(classtup)) elog(ERROR, "cache lookup failed for operator class %u", opclass);
  auto* classform = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(classtup));
  Oid family = classform->opcfamily;
  Oid intype = classform->opcintype;
  const char* classname = NameStr(classform->opcname);
  bool ok = true;

  if (!omen_key_type_supported(intype)) {
    ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                   errmsg("learned operator class \"%s\" is for type %s, which the learned index "
                          "cannot encode",
                          classname, format_type_be(intype))));
    ok = false;
  }

  CatCList* procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
  bool own_proc = false;
  for (int i = 0; i < procs->n_members; i++) {
    auto* proc = reinterpret_cast<Form_pg_amproc>(GETSTRUCT(&procs->members[i]->tuple));
    if (proc->amprocnum != 1) {
      ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                     errmsg("learned operator family of \"%s\" has invalid support function number %d "
                            "for %s",
                            classname, proc->amprocnum, format_procedure(proc->amproc))));
      ok = false;
      continue;
    }
    if (!check_amproc_signature(proc->amproc, INT4OID, true, 2, 2, proc->amproclefttype,
                                proc->amprocrighttype) ||
        !omen_key_type_supported(proc->amproclefttype) || !omen_key_type_supported(proc->amprocrighttype) ||
        !is_btree_cmp(proc->amproc, proc->amproclefttype, proc->amprocrighttype)) {
      ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                     errmsg("learned operator family of \"%s\" has a support function %s with a wrong "
                            "signature (need the btree comparison function of supported key types)",
                            classname, format_procedure(proc->amproc))));
      ok = false;
    }
    if (proc->amproclefttype == intype && proc->amprocrighttype == intype) own_proc = true;
  }

  CatCList* ops = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(family));
  uint32 own_strategies = 0;
  for (int i = 0; i < ops->n_members; i++) {
    auto* op = reinterpret_cast<Form_pg_amop>(GETSTRUCT(&ops->members[i]->tuple));
    if (op->amopstrategy < 1 || op->amopstrategy > BTMaxStrategyNumber || op->amoppurpose != AMOP_SEARCH ||
        !check_amop_signature(op->amopopr, BOOLOID, op->amoplefttype, op->amoprighttype) ||
        !omen_key_type_supported(op->amoplefttype) || !omen_key_type_supported(op->amoprighttype) ||
        !is_btree_operator(op->amopopr, op->amoplefttype, op->amoprighttype, op->amopstrategy)) {
      ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                     errmsg("learned operator family of \"%s\" has invalid operator %s (strategy %d)",
                            classname, format_operator(op->amopopr), op->amopstrategy)));
      ok = false;
      continue;
    }
    if (op->amoplefttype == intype && op->amoprighttype == intype) own_strategies |= 1u << op->amopstrategy;
  }
  if (own_strategies != 0x3Eu) {  // strategies 1..5
    ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                   errmsg("learned operator class \"%s\" lacks some of the operators < <= = >= > for %s",
                          classname, format_type_be(intype))));
    ok = false;
  }
  if (!own_proc) {
    ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                   errmsg("learned operator class \"%s\" lacks support function 1 for %s", classname,
                          format_type_be(intype))));
    ok = false;
  }
  ReleaseCatCacheList(ops);
  ReleaseCatCacheList(procs);
  ReleaseSysCache(classtup);
  return ok;
}
