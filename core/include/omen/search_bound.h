// The error bound as a type: what every model's predict() returns.
#pragma once

#include <cstddef>

namespace omen {

// Result of a model prediction for one key over the n keys the model was trained on.
//
// Guarantee (made by every model in omen/model.h, for EVERY uint64 key, present or absent,
// duplicates included): let lb = std::lower_bound(keys, keys + n, key) - keys. Then
//     lo <= lb <= hi,   lo <= pos <= hi,   hi <= n.
// Searching keys[lo, hi) for the first key >= key (answer hi if there is none) gives lb exactly.
struct SearchBound {
  size_t pos;  // predicted position (the best single guess for lb)
  size_t lo;   // first candidate position
  size_t hi;   // one past the last candidate position that holds a key (lb may equal hi)
};

}  // namespace omen
