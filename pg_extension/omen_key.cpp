// Datum <-> uint64 key encoding (omen_key.h).
#include "omen_key.h"

#include <omen/key.h>

extern "C" {
#include "catalog/pg_type_d.h"
#include "utils/date.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

// One line per type, as a table.
// clang-format off
bool omen_key_type_supported(Oid type) {
  switch (type) {
    case INT2OID: case INT4OID: case INT8OID: case FLOAT4OID: case FLOAT8OID:
    case DATEOID: case TIMESTAMPOID: case TIMESTAMPTZOID: case UUIDOID:
      return true;
    default:
      return false;
  }
}

bool omen_key_type_exact(Oid type) { return omen_key_type_supported(type) && type != UUIDOID; }

bool omen_key_type_decodable(Oid type) {
  return omen_key_type_exact(type) && type != FLOAT4OID && type != FLOAT8OID;
}

uint64 omen_key_encode(Datum value, Oid type) {
  switch (type) {
    case INT2OID: return omen::key::from_int16(DatumGetInt16(value));
    case INT4OID: return omen::key::from_int32(DatumGetInt32(value));
    case INT8OID: return omen::key::from_int64(DatumGetInt64(value));
    case FLOAT4OID: return omen::key::from_float4(DatumGetFloat4(value));
    case FLOAT8OID: return omen::key::from_float8(DatumGetFloat8(value));
    case DATEOID: return omen::key::from_date(DatumGetDateADT(value));
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: return omen::key::from_timestamp(DatumGetTimestamp(value));
    case UUIDOID: return omen::key::from_prefix(DatumGetUUIDP(value)->data);
    default:
      elog(ERROR, "learned index: unsupported key type %u", type);
  }
  pg_unreachable();
}
// clang-format on

Datum omen_key_decode(uint64 key, Oid type) {
  int64 v = omen::key::to_int64(key);
  if (type == INT2OID) return Int16GetDatum(static_cast<int16>(v));
  if (type == INT4OID) return Int32GetDatum(static_cast<int32>(v));
  if (type == INT8OID) return Int64GetDatum(v);
  if (type == DATEOID) return DateADTGetDatum(static_cast<DateADT>(v));
  if (type == TIMESTAMPOID || type == TIMESTAMPTZOID) return TimestampGetDatum(v);
  elog(ERROR, "learned index: cannot return keys of type %u", type);
  pg_unreachable();
}
