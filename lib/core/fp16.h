// fp16.h — exact IEEE binary16 <-> binary32 conversion in integer code (round to nearest even,
// subnormals, infinities; NaN stays NaN, made quiet, sign and top payload bits kept — as F16C/VCVT do),
// identical on every target with or without an FPU (checked against F16C on all 2^32 floats).
#pragma once
#include <stdint.h>
#include "core/bytes.h"  // float_bits / bits_float

namespace bitlm {

uint16_t f32_to_f16(float value);
float f16_to_f32(uint16_t bits);
// Round a float to the nearest fp16 value, returned as float (how scales are stored).
inline float round_to_f16(float value) { return f16_to_f32(f32_to_f16(value)); }

}  // namespace bitlm
