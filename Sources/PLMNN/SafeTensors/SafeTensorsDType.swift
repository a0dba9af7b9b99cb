/// Element types of the safetensors format (the names as written in headers).
///
/// Every dtype of the spec is known so that file layouts can be validated;
/// only F32, F16, BF16, F64 and I64 can be read (see `isReadable`).
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8", u16 = "U16", i16 = "I16", u32 = "U32", i32 = "I32", u64 = "U64", i64 = "I64"
    case f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", f8e8m0 = "F8_E8M0"
    case f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2", f4 = "F4"
    case c64 = "C64"

    /// Bits per element.
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2, .f8e8m0: return 8
        case .u16, .i16, .f16, .bf16: return 16
        case .u32, .i32, .f32: return 32
        case .u64, .i64, .f64, .c64: return 64
        }
    }

    /// Whether PLMKit can read tensors of this dtype (as Float32; I64 also as `[Int64]`).
    public var isReadable: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .i64: return true
        default: return false
        }
    }

    /// Bytes taken by `count` elements, or nil when the bits do not fill whole bytes.
    func byteCount(elements count: Int) -> Int? {
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitSize)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}

// MARK: Exact conversions to Float32

/// IEEE 754 binary16 bits to Float32 (exact: every half value is a float).
@inline(__always)
func halfBitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa * 2^-24, exact in Float32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // inf / NaN (payload kept)
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// bfloat16 bits to Float32 (exact: bf16 is the top half of a float).
@inline(__always)
func bfloat16BitsToFloat(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}
