// Float64 column bodies: raw bit patterns; their byte planes, plain or each pattern XORed with the
// previous one (equal or close values leave mostly zero bytes for zstd); or decimal: when every
// value is exactly n / 10^e, the integers n as an Int64 body (prices, readings with few digits).
#include <cmath>
#include <cstring>

#include "batch/columns.h"

namespace omen::detail {

namespace {

constexpr const char* kKind = "Float64";
constexpr unsigned kMaxExponent = 18;
// 10^e, each exact (every power of ten up to 10^22 is a double).
constexpr double kPow10[kMaxExponent + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                             1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

// What a decimal body's integer n decodes to at exponent e. IEEE division is correctly rounded, so
// this is the same on every machine; the encoder accepts n only if it gives the value back exactly.
double decimal_value(uint64_t n, unsigned e) {
  return static_cast<double>(static_cast<int64_t>(n)) / kPow10[e];
}

// Sets *n to the integer that decodes to exactly `bits` at exponent e; false if there is none.
bool scale(uint64_t bits, unsigned e, uint64_t* n) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  const double x = v * kPow10[e];
  if (!(std::fabs(x) < 9.0e18)) return false;  // NaN, infinities, beyond int64
  *n = static_cast<uint64_t>(std::llround(x));
  const double back = decimal_value(*n, e);
  uint64_t back_bits;
  std::memcpy(&back_bits, &back, sizeof back_bits);
  return back_bits == bits;  // also refuses -0 (it comes back as +0)
}

// The smallest exponent at which every value is a decimal, with the integers in *scaled; -1 if none.
// A failing exponent usually stops at its first values.
int find_decimal(std::span<const uint64_t> bits, std::vector<uint64_t>* scaled) {
  scaled->resize(bits.size());
  for (unsigned e = 0; e <= kMaxExponent; ++e) {
    size_t i = 0;
    while (i < bits.size() && scale(bits[i], e, &(*scaled)[i])) ++i;
    if (i == bits.size()) return static_cast<int>(e);
  }
  return -1;
}

}  // namespace

bool encode_float64(std::span<const uint64_t> bits, Float64Encoding e, ColumnScratch* s,
                    std::vector<uint8_t>* out) {
  const size_t n = bits.size();
  if (e == Float64Encoding::kDecimal) {
    const int exponent = find_decimal(bits, &s->scaled);
    if (exponent < 0) return false;
    out->push_back(static_cast<uint8_t>(exponent));
    out->push_back(0);
    const size_t at = out->size() - 1;
    uint8_t int_encoding = 0;
    (void)encode_int64(s->scaled, std::nullopt, s, out, &int_encoding);  // fails only when forced
    (*out)[at] = int_encoding;
    return true;
  }
  const size_t at = out->size();
  out->resize(at + 8 * n);
  uint8_t* p = out->data() + at;
  if (e == Float64Encoding::kRaw) {
    if (n > 0) std::memcpy(p, bits.data(), 8 * n);
    return true;
  }
  const bool xored = e == Float64Encoding::kXorShuffle;
  uint64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = bits[i] ^ prev;
    prev = xored ? bits[i] : 0;
    for (size_t b = 0; b < 8; ++b) p[b * n + i] = static_cast<uint8_t>(x >> (8 * b));
  }
  return true;
}

Status decode_float64(ByteCursor c, uint8_t encoding, size_t rows, ColumnScratch* s, double* out) {
  const size_t n = rows;
  const auto e = static_cast<Float64Encoding>(encoding);
  if (e == Float64Encoding::kDecimal) {
    uint8_t exponent = 0, int_encoding = 0;
    if (!c.read(&exponent) || !c.read(&int_encoding) || exponent > kMaxExponent)
      return body_corruption(kKind, "bad decimal exponent");
    s->scaled.resize(n);
    OMEN_RETURN_IF_ERROR(decode_int64(c, int_encoding, n, s->scaled.data()));
    for (size_t i = 0; i < n; ++i) out[i] = decimal_value(s->scaled[i], exponent);
    return Status::OK();
  }
  const uint8_t* p = c.take(8 * n);
  if (p == nullptr || c.left() != 0) return body_corruption(kKind, "size is not 8 bytes a row");
  if (e == Float64Encoding::kRaw) {
    if (n > 0) std::memcpy(out, p, 8 * n);
    return Status::OK();
  }
  if (e != Float64Encoding::kShuffle && e != Float64Encoding::kXorShuffle)
    return body_corruption(kKind, "unknown encoding");
  const uint64_t keep = e == Float64Encoding::kXorShuffle ? ~uint64_t{0} : 0;
  uint64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = 0;
    for (size_t b = 0; b < 8; ++b) x |= static_cast<uint64_t>(p[b * n + i]) << (8 * b);
    x ^= prev;
    prev = x & keep;
    std::memcpy(out + i, &x, sizeof x);
  }
  return Status::OK();
}

}  // namespace omen::detail
