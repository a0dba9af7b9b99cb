import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Byte-level helpers shared by the text readers. Fields are half-open byte
// ranges [start, end) into one immutable buffer; nothing here allocates except
// the interner, which creates each distinct short string once.

@usableFromInline let asciiSpace: UInt8 = 0x20
@usableFromInline let asciiTab: UInt8 = 0x09
@usableFromInline let asciiNewline: UInt8 = 0x0A
@usableFromInline let asciiReturn: UInt8 = 0x0D

@inline(__always) func isBlank(_ c: UInt8) -> Bool {
    c == asciiSpace || c == asciiTab || c == asciiNewline || c == asciiReturn
}
@inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
@inline(__always) func upper(_ c: UInt8) -> UInt8 { (c >= 0x61 && c <= 0x7A) ? c - 0x20 : c }

/// Reads a whole file; memory-mapped when possible so large files do not double in memory.
func readFileData(_ url: URL) throws -> Data {
    let path = url.path
    guard FileManager.default.fileExists(atPath: path) else {
        throw StructureIOError.fileNotFound(path: path)
    }
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw StructureIOError.readFailed(path: path, reason: "\(error)")
    }
}

/// Narrows [start, end) by dropping blanks at both ends.
@inline(__always)
func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
    var s = start, e = end
    while s < e && isBlank(b[s]) { s += 1 }
    while e > s && isBlank(b[e - 1]) { e -= 1 }
    return (s, e)
}

/// Powers of ten exactly representable as Double (10^0 ... 10^22).
private let exactPowersOfTen: [Double] = (0...22).map { p in
    var v = 1.0
    for _ in 0..<p { v *= 10 }
    return v
}

/// Parses a decimal number in [start, end) (surrounding blanks allowed).
///
/// Plain decimals (`-12.345`) are converted exactly: integer mantissa divided by
/// a power of ten, which IEEE division rounds correctly, so the result equals
/// `strtod`'s. Exponents and very long mantissas fall back to `strtod`.
/// Returns nil for an empty or non-numeric field.
func parseDouble(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
    let (s, e) = trimmed(b, start, end)
    if s >= e { return nil }
    var i = s
    var negative = false
    if b[i] == 0x2D { negative = true; i += 1 } else if b[i] == 0x2B { i += 1 }
    var mantissa: UInt64 = 0
    var digits = 0
    var fracDigits = 0
    var sawDot = false
    var sawDigit = false
    while i < e {
        let c = b[i]
        if isDigit(c) {
            sawDigit = true
            if digits < 18 {
                mantissa = mantissa &* 10 &+ UInt64(c &- 0x30)
                if mantissa != 0 { digits += 1 }
                if sawDot { fracDigits += 1 }
            } else {
                return strtodField(b, s, e)
            }
        } else if c == 0x2E && !sawDot {
            sawDot = true
        } else if c == 0x65 || c == 0x45 {
            return sawDigit ? strtodField(b, s, e) : nil
        } else {
            return nil
        }
        i += 1
    }
    if !sawDigit { return nil }
    guard fracDigits <= 22 else { return strtodField(b, s, e) }
    let v = Double(mantissa) / exactPowersOfTen[fracDigits]
    return negative ? -v : v
}

private func strtodField(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Double? {
    var tmp = [CChar](repeating: 0, count: e - s + 1)
    for k in s..<e { tmp[k - s] = CChar(bitPattern: b[k]) }
    return tmp.withUnsafeMutableBufferPointer { p -> Double? in
        var endPtr: UnsafeMutablePointer<CChar>? = nil
        let v = strtod(p.baseAddress!, &endPtr)
        guard let endPtr, endPtr - p.baseAddress! == e - s else { return nil }
        return v
    }
}

/// Parses a (possibly signed) decimal integer in [start, end), blanks allowed around it.
///
/// When `hybrid36` is true, a field starting with a letter is decoded as
/// hybrid-36 (the PDB convention for serials > 99999 and residue numbers > 9999)
/// with `width` as the field width.
func parseInt(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
              hybrid36 width: Int = 0) -> Int? {
    let (s, e) = trimmed(b, start, end)
    if s >= e { return nil }
    var i = s
    var negative = false
    if b[i] == 0x2D { negative = true; i += 1 } else if b[i] == 0x2B { i += 1 }
    if i >= e { return nil }
    if width > 0 && isLetter(b[i]) && !negative {
        return decodeHybrid36(b, i, e, width: width)
    }
    var v = 0
    while i < e {
        let c = b[i]
        guard isDigit(c) else { return nil }
        v = v &* 10 &+ Int(c &- 0x30)
        if v > Int(Int32.max) * 16 { return nil }
        i += 1
    }
    return negative ? -v : v
}

/// Hybrid-36: upper-case digits continue after 10^w - 1, lower-case after those.
private func decodeHybrid36(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, width: Int) -> Int? {
    guard e - s == width else { return nil }
    let isUpper = b[s] >= 0x41 && b[s] <= 0x5A
    var v = 0
    for k in s..<e {
        let c = b[k]
        let d: Int
        if isDigit(c) { d = Int(c - 0x30) }
        else if c >= 0x41 && c <= 0x5A { guard isUpper else { return nil }; d = Int(c - 0x41) + 10 }
        else if c >= 0x61 && c <= 0x7A { guard !isUpper else { return nil }; d = Int(c - 0x61) + 10 }
        else { return nil }
        v = v * 36 + d
    }
    var p10 = 1
    for _ in 0..<width { p10 *= 10 }
    var p36 = 1
    for _ in 0..<(width - 1) { p36 *= 36 }
    // First upper-case value "A000" encodes 10^w; first lower-case continues after the upper block.
    let upperStart = 10 * p36
    if isUpper { return v - upperStart + p10 }
    return v - upperStart + p10 + 26 * p36
}

/// Creates each distinct short field string once (atom, residue and chain names repeat a lot).
struct StringInterner {
    private var table: [UInt64: String] = [:]

    /// The string for bytes [start, end); blanks are not trimmed here.
    mutating func string(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        let n = end - start
        if n <= 0 { return "" }
        if n > 7 {
            return String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }
        var key = UInt64(n)
        for k in 0..<n { key |= UInt64(b[start + k]) << (8 * UInt64(k + 1)) }
        if let s = table[key] { return s }
        let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        table[key] = s
        return s
    }

    /// The string for bytes [start, end) with surrounding blanks removed.
    mutating func trimmedString(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        let (s, e) = trimmed(b, start, end)
        return string(b, s, e)
    }

    /// Upper-cased, trimmed string (element symbols).
    mutating func upperString(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        let (s, e) = trimmed(b, start, end)
        let n = e - s
        if n <= 0 { return "" }
        if n > 7 { return String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self).uppercased() }
        var key = UInt64(n) | (1 << 7)  // distinct key space from `string`
        for k in 0..<n { key |= UInt64(upper(b[s + k])) << (8 * UInt64(k + 1)) }
        if let str = table[key] { return str }
        let str = String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self).uppercased()
        table[key] = str
        return str
    }
}

/// A short printable excerpt of a field for error messages.
func excerpt(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, limit: Int = 40) -> String {
    let e = min(end, start + limit)
    if e <= start { return "" }
    let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<e]), as: UTF8.self)
    return s + (end > e ? "..." : "")
}
