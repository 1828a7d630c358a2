// test_pack.cpp — ternary (base-3, five trits per byte, block-interleaved) and binary (1 bit) row
// packing: exact roundtrips for every length 0..1000, sizes, the byte code, the layout and padding.
#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "tensor/binary_pack.h"
#include "tensor/ternary_pack.h"

using namespace bitlm;

// The layout written out independently of the library: (byte, digit) of weight i in a row of n.
static void reference_locate(uint32_t n, uint32_t i, uint32_t *byte, uint32_t *digit) {
    const uint32_t block = i / 160, full = n / 160;
    if (block < full) {
        *byte = block * 32 + (i % 160) % 32;
        *digit = (i % 160) / 32;
    } else {
        const uint32_t r = n % 160, B = (r + 4) / 5, t = i - full * 160;
        *byte = full * 32 + t % B;
        *digit = t / B;
    }
}

static void test_byte_code() {
    // Every one of the 243 five-trit combinations encodes to a distinct byte that decodes back.
    std::vector<int> seen(256, 0);
    for (int v = 0; v < 243; v++) {
        int8_t t[5];
        int rest = v;
        for (int k = 4; k >= 0; k--) { t[k] = (int8_t)(rest % 3 - 1); rest /= 3; }
        const uint8_t q = ternary_encode5(t);
        CHECK_MSG(q == (uint8_t)((v * 256 + 242) / 243), "v=%d q=%d", v, q);
        seen[q]++;
        for (uint32_t k = 0; k < 5; k++) CHECK_MSG(ternary_trit(q, k) == t[k], "v=%d digit %u", v, k);
    }
    int distinct = 0;
    for (int q = 0; q < 256; q++) distinct += seen[q] != 0;
    CHECK(distinct == 243);
    // Any byte decodes to valid trits (a corrupted payload can never produce |w| > 1).
    for (int q = 0; q < 256; q++)
        for (uint32_t k = 0; k < 5; k++) {
            const int32_t t = ternary_trit((uint8_t)q, k);
            CHECK(t >= -1 && t <= 1);
        }
    // Out-of-range inputs clamp by sign.
    const int8_t wild[5] = {-128, 127, 0, -5, 9};
    const int8_t clamped[5] = {-1, 1, 0, -1, 1};
    CHECK(ternary_encode5(wild) == ternary_encode5(clamped));
    // All-zero weights are byte 121*256/243 rounded up = 128 (v = 121, all digits 1).
    const int8_t zeros[5] = {0, 0, 0, 0, 0};
    CHECK(ternary_encode5(zeros) == 128);
}

static void test_ternary_lengths() {
    std::mt19937 rng(12345);
    std::vector<int8_t> trits, back;
    std::vector<uint8_t> packed;
    for (uint32_t n = 0; n <= 1000; n++) {
        const uint64_t bytes = ternary_packed_bytes(n);
        CHECK_MSG(bytes == (n + 4) / 5, "n=%u", n);
        for (int pattern = 0; pattern < 4; pattern++) {
            trits.assign(n, 0);
            for (uint32_t i = 0; i < n; i++)
                trits[i] = pattern == 0 ? (int8_t)((int)(rng() % 3) - 1)
                         : pattern == 1 ? (int8_t)-1
                         : pattern == 2 ? (int8_t)1
                                        : (int8_t)0;
            // One guard byte past the row must stay untouched.
            packed.assign(bytes + 1, 0xA5);
            ternary_pack_row(trits.data(), n, packed.data());
            CHECK_MSG(packed[bytes] == 0xA5, "n=%u wrote past ceil(n/5) bytes", n);
            back.assign(n + 1, 7);
            ternary_unpack_row(packed.data(), n, back.data());
            bool same = true;
            for (uint32_t i = 0; i < n; i++) same = same && back[i] == trits[i];
            CHECK_MSG(same, "n=%u pattern=%d roundtrip", n, pattern);
            CHECK_MSG(back[n] == 7, "n=%u unpack wrote past n", n);
            if (pattern != 0) continue;

            // Every weight sits where the layout says (independent reference and ternary_locate),
            // and every digit position not holding a weight (tail padding) is digit 1 = weight 0.
            std::vector<int> owner(bytes * 5, -1);
            bool located = true, placed = true;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t byte, digit, rb, rd;
                ternary_locate(n, i, &byte, &digit);
                reference_locate(n, i, &rb, &rd);
                located = located && byte == rb && digit == rd && byte < bytes && digit < 5;
                if (byte < bytes && digit < 5) {
                    placed = placed && owner[byte * 5 + digit] == -1;
                    owner[byte * 5 + digit] = (int)i;
                    placed = placed && ternary_trit(packed[byte], digit) == trits[i];
                }
            }
            CHECK_MSG(located, "n=%u ternary_locate disagrees with the layout", n);
            CHECK_MSG(placed, "n=%u weights not where ternary_locate says (or two share a digit)", n);
            bool padding_zero = true;
            uint32_t padding = 0;
            for (uint64_t p = 0; p < bytes * 5; p++)
                if (owner[p] < 0) {
                    padding++;
                    padding_zero = padding_zero && ternary_trit(packed[p / 5], (uint32_t)(p % 5)) == 0;
                }
            CHECK_MSG(padding_zero, "n=%u tail padding digits must be weight 0", n);
            CHECK_MSG(padding == bytes * 5 - n, "n=%u padding count", n);
        }
    }
    // A whole block: digit plane k of bytes 0..31 is weights 32k..32k+31.
    std::vector<int8_t> ramp(160);
    for (int i = 0; i < 160; i++) ramp[i] = (int8_t)(i % 3 - 1);
    std::vector<uint8_t> blk(32);
    ternary_pack_row(ramp.data(), 160, blk.data());
    bool planes = true;
    for (uint32_t k = 0; k < 5; k++)
        for (uint32_t j = 0; j < 32; j++) planes = planes && ternary_trit(blk[j], k) == ramp[32 * k + j];
    CHECK(planes);
    // Tail of 7 weights: B = 2 bytes; byte 0 holds tail weights 0,2,4,6 (+pad), byte 1 holds 1,3,5.
    uint32_t byte, digit;
    ternary_locate(167, 160 + 6, &byte, &digit);
    CHECK(byte == 32 && digit == 3);
    ternary_locate(167, 160 + 5, &byte, &digit);
    CHECK(byte == 33 && digit == 2);
}

static void test_binary_lengths() {
    std::mt19937 rng(777);
    std::vector<int8_t> signs, back;
    std::vector<uint8_t> packed;
    for (uint32_t n = 0; n <= 1000; n++) {
        const uint64_t bytes = binary_packed_bytes(n);
        CHECK_MSG(bytes == (n + 7) / 8, "n=%u", n);
        for (int pattern = 0; pattern < 3; pattern++) {
            signs.assign(n, 1);
            for (uint32_t i = 0; i < n; i++)
                signs[i] = pattern == 0 ? (rng() & 1 ? (int8_t)1 : (int8_t)-1) : pattern == 1 ? (int8_t)-1 : (int8_t)1;
            packed.assign(bytes + 1, 0xA5);
            binary_pack_row(signs.data(), n, packed.data());
            CHECK_MSG(packed[bytes] == 0xA5, "n=%u wrote past ceil(n/8) bytes", n);
            bool layout = true;
            for (uint32_t i = 0; i < n; i++) layout = layout && (((packed[i / 8] >> (i % 8)) & 1) == (signs[i] > 0));
            CHECK_MSG(layout, "n=%u bit i of byte j must be weight 8j+i", n);
            if (n % 8) CHECK_MSG((packed[bytes - 1] >> (n % 8)) == 0, "n=%u unused high bits must be 0", n);
            back.assign(n + 1, 7);
            binary_unpack_row(packed.data(), n, back.data());
            bool same = true;
            for (uint32_t i = 0; i < n; i++) same = same && back[i] == signs[i];
            CHECK_MSG(same, "n=%u pattern=%d roundtrip", n, pattern);
            CHECK_MSG(back[n] == 7, "n=%u unpack wrote past n", n);
        }
    }
    // Zero counts as +1 (sign of w >= 0); any negative int8 as -1.
    const int8_t mixed[8] = {0, -1, 5, -128, 127, 0, -3, 1};
    uint8_t b = 0;
    binary_pack_row(mixed, 8, &b);
    CHECK(b == 0xB5);  // bits 0,2,4,5,7
}

int main() {
    test_byte_code();
    test_ternary_lengths();
    test_binary_lengths();
    return check::finish("test_pack");
}
