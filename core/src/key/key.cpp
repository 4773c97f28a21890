// The key encodings are inline (core/include/omen/key.h); this unit checks their constant cases at
// compile time so a wrong edit fails the build, not only the tests.
#include "omen/key.h"

namespace omen::key {
static_assert(from_int64(std::numeric_limits<int64_t>::min()) == 0);
static_assert(from_int64(std::numeric_limits<int64_t>::max()) == std::numeric_limits<uint64_t>::max());
static_assert(from_int32(-1) < from_int32(0) && from_int16(0) < from_int16(1));
static_assert(from_int32(7) == from_int64(7) && from_date(-3) == from_int64(-3));
static_assert(to_int64(from_int64(-42)) == -42);
}  // namespace omen::key
