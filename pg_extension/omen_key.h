// Datum <-> uint64 key encoding, shared by the access methods (index AM `learned`, table AM
// `tiered`).
//
// Keys are encoded into uint64 in an order-preserving way (omen/key.h): a < b as Datums of the type
// exactly when encode(a) < encode(b), with Postgres' order of NaN and -0 for floats. Supported types:
// int2, int4, int8, float4, float8, date, timestamp, timestamptz; and uuid, whose key is its first 8
// bytes: a < b gives only encode(a) <= encode(b) (not exact: readers recheck).
#pragma once

#include "omen_pg.h"

// True when `type` is one the encoding supports.
bool omen_key_type_supported(Oid type);
// True when equal keys mean equal values (every supported type but uuid).
bool omen_key_type_exact(Oid type);
// True when omen_key_decode is exact for `type`: every exact type but float4/float8 (-0 and NaN payloads
// are not kept).
bool omen_key_type_decodable(Oid type);
// Order-preserving uint64 encoding of a Datum of type `type`. Other types: elog(ERROR).
uint64 omen_key_encode(Datum value, Oid type);
// Inverse of omen_key_encode for the decodable types. Other types: elog(ERROR).
Datum omen_key_decode(uint64 key, Oid type);
