// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and final XOR ~0): the
// checksum of the hot log's records and of the batch codec's header and sections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace omen::detail {

// CRC-32C of data[0, n): SSE4.2's crc32 instruction when the CPU has it, else one table lookup per
// byte. Both give the same value (crc32c("123456789") == 0xE3069283).
uint32_t crc32c(const void* data, size_t n);
inline uint32_t crc32c(std::string_view d) { return crc32c(d.data(), d.size()); }

// The table path alone (tests compare the two).
uint32_t crc32c_portable(const void* data, size_t n);

}  // namespace omen::detail
