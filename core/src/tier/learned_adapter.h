// The two learned indexes the tier uses, named in one place.
//
//   HotIndex: key -> version chain of the hot tier (inserts and erases as keys come and go).
//   RunIndex: the sorted keys of one immutable cold run; lower_bound gives the position of a key
//             in the run, which is where its entry is stored ('C' run pos, codec.h).
//
// Both come from the core index module (notes/core-api.md). Neither is thread-safe for writers:
// the hot tier guards HotIndex with its shared_mutex (hot_tier.h); a RunIndex is never written
// after construction.
#pragma once

#include "omen/dynamic_index.h"
#include "omen/static_index.h"

namespace omen::detail {

using HotIndex = DynamicLearnedIndex;
using RunIndex = StaticLearnedIndex;
inline constexpr const char* kIndexKind = "DynamicLearnedIndex (hot), StaticLearnedIndex/PGM per cold run";

}  // namespace omen::detail
