// Umbrella header: the host/device implementation of the formats (SPEC §1-3).
#pragma once

#include "arith.h"
#include "e2m1.h"
#include "scale_codecs.h"
#include "half_codecs.h"
#include "block_quantize.h"
#include "block_decode.h"
