#include <xsimd/xsimd.hpp>

#include "omen/search.h"

namespace omen {

SearchKernel best_search_kernel() noexcept {
  return xsimd::available_architectures().avx2 ? SearchKernel::kSimd : SearchKernel::kScalar;
}

}  // namespace omen
