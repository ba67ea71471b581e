// Fuzz target: common/codec — percent-decoding/encoding and base64, with their round-trip properties.
//
// Input: any bytes.

#include "lambent/common/codec.hpp"

#include <cstdint>
#include <string_view>

namespace codec = lambent::codec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    (void)codec::percent_decode(bytes, false);
    (void)codec::percent_decode(bytes, true);
    const auto encoded = codec::percent_encode(bytes);
    const auto decoded = codec::percent_decode(encoded);
    if (!decoded || *decoded != bytes) __builtin_trap();

    if (auto b = codec::base64_decode(bytes)) {
        (void)codec::base64_encode(*b);
    }
    const auto b64 = codec::base64_encode(bytes);
    const auto back = codec::base64_decode(b64);
    if (!back || *back != bytes) __builtin_trap();

    if (codec::hex(bytes).size() != 2 * bytes.size()) __builtin_trap();
    return 0;
}
