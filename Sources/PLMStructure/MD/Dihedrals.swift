import Foundation

/// Backbone and side-chain dihedrals binned into SeqDance's 12 histogram bins.
public enum MDDihedrals {
    /// Bin edges `pi * (-1 + i/6)`, i = 0...12, computed as SeqDance's Python does.
    public static let edges: [Double] = (0 ... 12).map { Double.pi * (-1 + Double($0) / 6) }

    /// Dihedral angle (radians, -pi...pi) of four positions: MDTraj's
    /// `atan2(|b2| b1.(b2 x b3), (b1 x b2).(b2 x b3))`.
    @inline(__always)
    public static func angle(_ x0: SIMD3<Double>, _ x1: SIMD3<Double>, _ x2: SIMD3<Double>, _ x3: SIMD3<Double>) -> Double {
        let b1 = x1 - x0, b2 = x2 - x1, b3 = x3 - x2
        let c1 = cross(b2, b3), c2 = cross(b1, b2)
        let p1 = (b1 * c1).sum() * ((b2 * b2).sum()).squareRoot()
        let p2 = (c1 * c2).sum()
        return atan2(p1, p2)
    }

    @inline(__always)
    static func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }

    /// `np.histogram` bin of an angle: 0...11, the last bin closed; -1 outside [-pi, pi].
    ///
    /// The angle is first rounded to Float, since MDTraj returns float32 angles that
    /// NumPy compares with the float64 edges.
    @inline(__always)
    public static func bin(_ theta: Double) -> Int {
        let x = Double(Float(theta))
        guard x >= edges[0], x <= edges[12] else { return -1 }
        if x == edges[12] { return 11 }
        var k = Int((x - edges[0]) / (Double.pi / 6))
        k = min(max(k, 0), 11)
        while k > 0 && x < edges[k] { k -= 1 }
        while k < 11 && x >= edges[k + 1] { k += 1 }
        return k
    }

    /// Bins of every dihedral of one frame (positions in any length unit, Float).
    static func bins(_ defs: [MDDihedral], positions p: UnsafePointer<Float>, out: UnsafeMutablePointer<Int8>) {
        @inline(__always) func v(_ a: Int32) -> SIMD3<Double> {
            let i = Int(a); return SIMD3(Double(p[3 * i]), Double(p[3 * i + 1]), Double(p[3 * i + 2]))
        }
        for (k, d) in defs.enumerated() {
            out[k] = Int8(bin(angle(v(d.atoms[0]), v(d.atoms[1]), v(d.atoms[2]), v(d.atoms[3]))))
        }
    }
}
