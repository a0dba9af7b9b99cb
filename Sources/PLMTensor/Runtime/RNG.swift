/// Deterministic, counter-based random numbers: element `i` of a draw is a
/// pure function of (seed, offset + i), so results are identical on every run
/// and for every thread count, and the state is two integers (checkpointable).
public struct RNG: Equatable, Sendable, Codable {
    public var seed: UInt64
    /// Numbers consumed so far.
    public var offset: UInt64

    public init(seed: UInt64, offset: UInt64 = 0) {
        self.seed = seed
        self.offset = offset
    }

    /// SplitMix64's finaliser over a Weyl sequence keyed by the seed.
    @inline(__always)
    static func mix(_ seed: UInt64, _ counter: UInt64) -> UInt64 {
        var z = (seed &* 0xD1B5_4A32_D192_ED03) &+ (counter &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    static func unit(_ seed: UInt64, _ counter: UInt64) -> Float {
        Float(mix(seed, counter) >> 40) * (1.0 / 16_777_216.0)
    }

    public mutating func nextUInt64() -> UInt64 {
        defer { offset &+= 1 }
        return RNG.mix(seed, offset)
    }

    /// Uniform integer in `0..<bound`.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        return Int(nextUInt64() % UInt64(bound))  // bias < 2^-40 for bounds used here
    }

    /// Uniform Float in [0, 1).
    public mutating func nextFloat() -> Float {
        defer { offset &+= 1 }
        return RNG.unit(seed, offset)
    }

    /// Fills `n` floats uniform in [low, high), in parallel, thread-count independent.
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, _ n: Int, low: Float = 0, high: Float = 1) {
        let s = seed, base = offset
        let span = high - low
        Threads.parallelFor(n, grain: 1 << 15) { r in
            for i in r { p[i] = low + span * RNG.unit(s, base &+ UInt64(i)) }
        }
        offset &+= UInt64(n)
    }

    /// Fills `n` floats from N(mean, std²) by Box–Muller (two counters per value).
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, _ n: Int, mean: Float = 0, std: Float = 1) {
        let s = seed, base = offset
        Threads.parallelFor(n, grain: 1 << 14) { r in
            for i in r {
                let c = base &+ 2 &* UInt64(i)
                let u1 = Double(RNG.mix(s, c) >> 11) * 0x1p-53
                let u2 = Double(RNG.mix(s, c &+ 1) >> 11) * 0x1p-53
                let rad = (-2 * _log(1 - u1)).squareRoot()
                p[i] = mean + std * Float(rad * _cos(2 * Double.pi * u2))
            }
        }
        offset &+= 2 &* UInt64(n)
    }

    /// A new independent stream derived from this one (e.g. one per data worker).
    public mutating func split() -> RNG {
        RNG(seed: nextUInt64())
    }
}

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }

import Foundation

extension Tensor {
    /// Uniform [low, high) tensor from a seeded generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RNG,
                               requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        rng.fillUniform(t.data, t.count, low: low, high: high)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Normal(mean, std²) tensor from a seeded generator.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RNG,
                              requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        rng.fillNormal(t.data, t.count, mean: mean, std: std)
        t.requiresGrad = requiresGrad
        return t
    }
}
