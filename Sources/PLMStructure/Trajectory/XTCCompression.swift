// Decoder for GROMACS "xdr3dfcoord" compressed coordinates (the XTC format).
//
// This is a re-implementation of the published algorithm (xdrfile / libxdrf):
// coordinates are integers (x * precision) relative to the frame minimum, written
// as mixed-radix packed triples; runs of atoms close to their predecessor are
// written as small differences whose bit width adapts along the frame
// (`smallidx` walks the `magicInts` table); the first two atoms of a run are
// swapped (water O/H ordering). All reads are bounds-checked: corrupt input
// produces an error, never an out-of-bounds access.

enum XTCCompression {
    /// Bit widths used for small differences: magicInts[i] ~ 2^(i/3).
    static let magicInts: [UInt32] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64,
        80, 101, 128, 161, 203, 256, 322, 406, 512, 645, 812, 1024, 1290,
        1625, 2048, 2580, 3250, 4096, 5060, 6501, 8192, 10321, 13003,
        16384, 20642, 26007, 32768, 41285, 52015, 65536, 82570, 104031,
        131072, 165140, 208063, 262144, 330280, 416127, 524287, 660561,
        832255, 1048576, 1321122, 1664510, 2097152, 2642245, 3329021,
        4194304, 5284491, 6658042, 8388607, 10568983, 13316085, 16777216,
    ]
    static let firstIdx = 9

    struct DecodeError: Error { let message: String }

    /// Reads bits MSB-first from a byte buffer; reading past the end yields zeros and sets `overrun`.
    struct BitReader {
        let p: UnsafePointer<UInt8>
        let count: Int
        var cnt = 0
        var lastBits: UInt32 = 0
        var lastByte: UInt32 = 0
        var overrun = false

        @inline(__always) mutating func nextByte() -> UInt32 {
            if cnt < count { let v = UInt32(p[cnt]); cnt += 1; return v }
            overrun = true
            return 0
        }

        /// Reads `nbits` (0...32) bits as an unsigned value.
        @inline(__always) mutating func bits(_ nbits: Int) -> UInt32 {
            var n = nbits
            var num: UInt32 = 0
            while n >= 8 {
                lastByte = (lastByte &<< 8) | nextByte()
                num |= (lastByte >> lastBits) &<< UInt32(n - 8)
                n -= 8
            }
            if n > 0 {
                if Int(lastBits) < n {
                    lastBits += 8
                    lastByte = (lastByte &<< 8) | nextByte()
                }
                lastBits -= UInt32(n)
                num |= (lastByte >> lastBits) & ((1 << UInt32(n)) - 1)
            }
            return nbits >= 32 ? num : num & ((1 << UInt32(nbits)) - 1)
        }

        /// Reads three integers packed in mixed radix `sizes` using `nbits` bits in total.
        /// `bytes` is scratch space for at least 32 values.
        @inline(__always) mutating func ints(_ nbits: Int, _ sizes: (UInt32, UInt32, UInt32),
                                             _ bytes: UnsafeMutablePointer<UInt32>) -> (Int, Int, Int) {
            bytes[1] = 0; bytes[2] = 0; bytes[3] = 0
            var nbytes = 0
            var n = nbits
            while n > 8 {
                bytes[nbytes] = bits(8); nbytes += 1
                n -= 8
            }
            if n > 0 { bytes[nbytes] = bits(n); nbytes += 1 }
            // Divide the little-endian byte number by sizes[2], then sizes[1]; the rest is nums[0].
            @inline(__always) func divide(_ size: UInt32) -> UInt32 {
                var num: UInt32 = 0
                var j = nbytes - 1
                while j >= 0 {
                    num = (num &<< 8) | bytes[j]
                    let q = num / size
                    bytes[j] = q
                    num = num &- q &* size
                    j -= 1
                }
                return num
            }
            let out2 = divide(sizes.2)
            let out1 = divide(sizes.1)
            let out0 = bytes[0] | (bytes[1] &<< 8) | (bytes[2] &<< 16) | (bytes[3] &<< 24)
            return (Int(Int32(bitPattern: out0)), Int(out1), Int(out2))
        }
    }

    /// Bits needed to store values 0..<size (at most 32).
    static func sizeOfInt(_ size: UInt32) -> Int {
        var num: UInt64 = 1
        var bits = 0
        while UInt64(size) >= num && bits < 32 { bits += 1; num <<= 1 }
        return bits
    }

    /// Bits needed to store a mixed-radix triple with the given sizes.
    static func sizeOfInts(_ sizes: (UInt32, UInt32, UInt32)) -> Int {
        var bytes = [UInt64](repeating: 0, count: 32)
        bytes[0] = 1
        var nbytes = 1
        for size in [sizes.0, sizes.1, sizes.2] {
            var tmp: UInt64 = 0
            var k = 0
            while k < nbytes {
                tmp = bytes[k] * UInt64(size) + tmp
                bytes[k] = tmp & 0xFF
                tmp >>= 8
                k += 1
            }
            while tmp != 0 && k < 32 {
                bytes[k] = tmp & 0xFF
                k += 1
                tmp >>= 8
            }
            nbytes = k
        }
        var num: UInt64 = 1
        var bits = 0
        let top = nbytes - 1
        while bytes[top] >= num { bits += 1; num *= 2 }
        return bits + top * 8
    }

    /// Decodes `natoms` compressed coordinates into `out[0..<3*natoms]`, scaled by `scale`
    /// after the xdrfile conversion `Float(int) * Float(1 / precision)` (nm).
    static func decode(data: UnsafeRawBufferPointer, natoms: Int, precision: Float,
                       minInt: (Int32, Int32, Int32), maxInt: (Int32, Int32, Int32),
                       smallIndex: Int32, scale: Float, out: UnsafeMutablePointer<Float>) throws {
        guard precision > 0, precision.isFinite else {
            throw DecodeError(message: "precision \(precision) is not positive")
        }
        let mins = [Int(minInt.0), Int(minInt.1), Int(minInt.2)]
        let maxs = [Int(maxInt.0), Int(maxInt.1), Int(maxInt.2)]
        var sizeIntArr = [UInt32](repeating: 0, count: 3)
        for d in 0..<3 {
            let s = maxs[d] - mins[d] + 1
            guard s > 0 && s <= Int(UInt32.max) else {
                throw DecodeError(message: "coordinate range \(mins[d])...\(maxs[d]) is invalid")
            }
            sizeIntArr[d] = UInt32(s)
        }
        let sizeInt = (sizeIntArr[0], sizeIntArr[1], sizeIntArr[2])
        var bitSizeInt = (0, 0, 0)
        var bitSize = 0
        if (sizeInt.0 | sizeInt.1 | sizeInt.2) > 0xFFFFFF {
            bitSizeInt = (sizeOfInt(sizeInt.0), sizeOfInt(sizeInt.1), sizeOfInt(sizeInt.2))
            bitSize = 0  // flags the "large" path: each coordinate on its own
        } else {
            bitSize = sizeOfInts(sizeInt)
        }
        var smallIdx = Int(smallIndex)
        guard smallIdx >= firstIdx && smallIdx < magicInts.count else {
            throw DecodeError(message: "smallidx \(smallIdx) out of range")
        }
        var smaller = Int(magicInts[max(firstIdx, smallIdx - 1)] / 2)
        var smallNum = Int(magicInts[smallIdx] / 2)
        var sizeSmall = magicInts[smallIdx]
        let invPrecision = Float(1.0 / Double(precision))
        let minX = mins[0], minY = mins[1], minZ = mins[2]
        let total = 3 * natoms
        guard data.count > 0 else { throw DecodeError(message: "no compressed data for \(natoms) atoms") }

        try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 32) { scratch in
            let bytes = scratch.baseAddress!
            var reader = BitReader(p: data.bindMemory(to: UInt8.self).baseAddress!, count: data.count)
            var o = 0  // next output float
            var i = 0  // atoms consumed
            var run = 0
            @inline(__always) func emit(_ x: Int, _ y: Int, _ z: Int) throws {
                guard o + 3 <= total else { throw DecodeError(message: "run of atoms extends past the atom count") }
                out[o] = Float(x) * invPrecision * scale
                out[o + 1] = Float(y) * invPrecision * scale
                out[o + 2] = Float(z) * invPrecision * scale
                o += 3
            }
            while i < natoms {
                var tx: Int, ty: Int, tz: Int
                if bitSize == 0 {
                    tx = Int(reader.bits(bitSizeInt.0))
                    ty = Int(reader.bits(bitSizeInt.1))
                    tz = Int(reader.bits(bitSizeInt.2))
                } else {
                    (tx, ty, tz) = reader.ints(bitSize, sizeInt, bytes)
                }
                i += 1
                tx += minX; ty += minY; tz += minZ
                var px = tx, py = ty, pz = tz
                let flag = reader.bits(1)
                var isSmaller = 0
                if flag == 1 {
                    run = Int(reader.bits(5))
                    isSmaller = run % 3
                    run -= isSmaller
                    isSmaller -= 1
                }
                if run > 0 {
                    guard i + run / 3 <= natoms else {
                        throw DecodeError(message: "run of \(run / 3) atoms after atom \(i) exceeds \(natoms) atoms")
                    }
                    var k = 0
                    while k < run {
                        var (sx, sy, sz) = reader.ints(smallIdx, (sizeSmall, sizeSmall, sizeSmall), bytes)
                        i += 1
                        sx += px - smallNum
                        sy += py - smallNum
                        sz += pz - smallNum
                        if k == 0 {
                            // The first small atom was written before its large neighbour: swap back.
                            swap(&sx, &px); swap(&sy, &py); swap(&sz, &pz)
                            try emit(px, py, pz)
                        } else {
                            px = sx; py = sy; pz = sz
                        }
                        try emit(sx, sy, sz)
                        k += 3
                    }
                } else {
                    try emit(tx, ty, tz)
                }
                if reader.overrun {
                    throw DecodeError(message: "compressed data ends after atom \(i) of \(natoms)")
                }
                smallIdx += isSmaller
                guard smallIdx >= firstIdx && smallIdx < magicInts.count else {
                    throw DecodeError(message: "smallidx \(smallIdx) out of range at atom \(i)")
                }
                if isSmaller < 0 {
                    smallNum = smaller
                    smaller = smallIdx > firstIdx ? Int(magicInts[smallIdx - 1] / 2) : 0
                } else if isSmaller > 0 {
                    smaller = smallNum
                    smallNum = Int(magicInts[smallIdx] / 2)
                }
                sizeSmall = magicInts[smallIdx]
                guard sizeSmall > 0 else { throw DecodeError(message: "invalid small-number size") }
            }
            if o != total {
                throw DecodeError(message: "decoded \(o / 3) atoms, expected \(natoms)")
            }
        }
    }
}
