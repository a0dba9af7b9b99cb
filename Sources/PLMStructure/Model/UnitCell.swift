import Foundation

/// A periodic unit cell: edge lengths in Angstrom and angles in degrees (CRYST1 / DCD / XTC box).
public struct UnitCell: Hashable, Sendable {
    /// Edge length a (Angstrom).
    public var a: Double
    /// Edge length b (Angstrom).
    public var b: Double
    /// Edge length c (Angstrom).
    public var c: Double
    /// Angle between b and c (degrees).
    public var alpha: Double
    /// Angle between a and c (degrees).
    public var beta: Double
    /// Angle between a and b (degrees).
    public var gamma: Double

    /// Creates a cell from lengths (Angstrom) and angles (degrees).
    public init(a: Double, b: Double, c: Double, alpha: Double, beta: Double, gamma: Double) {
        self.a = a; self.b = b; self.c = c
        self.alpha = alpha; self.beta = beta; self.gamma = gamma
    }

    /// Creates a cell from three box vectors (rows, Angstrom), as GROMACS stores boxes.
    public init(vectors v: [SIMD3<Double>]) {
        precondition(v.count == 3, "UnitCell(vectors:) needs three vectors")
        func norm(_ x: SIMD3<Double>) -> Double { (x * x).sum().squareRoot() }
        func angle(_ x: SIMD3<Double>, _ y: SIMD3<Double>) -> Double {
            let d = norm(x) * norm(y)
            guard d > 0 else { return 90 }
            let cosv = max(-1, min(1, (x * y).sum() / d))
            return acos(cosv) * 180 / Double.pi
        }
        self.init(a: norm(v[0]), b: norm(v[1]), c: norm(v[2]),
                  alpha: angle(v[1], v[2]), beta: angle(v[0], v[2]), gamma: angle(v[0], v[1]))
    }

    /// Box vectors (rows, Angstrom) in the standard orientation: a along x, b in the xy plane.
    public var vectors: [SIMD3<Double>] {
        let toRad = Double.pi / 180
        let ca = cos(alpha * toRad), cb = cos(beta * toRad)
        // Exact zero for right angles so orthorhombic boxes stay diagonal.
        let cg = abs(gamma - 90) < 1e-9 ? 0 : cos(gamma * toRad)
        let sg = abs(gamma - 90) < 1e-9 ? 1 : sin(gamma * toRad)
        let va = SIMD3<Double>(a, 0, 0)
        let vb = SIMD3<Double>(b * cg, b * sg, 0)
        let cx = c * cb
        let cy = c * (ca - cb * cg) / sg
        let cz = (max(0, c * c - cx * cx - cy * cy)).squareRoot()
        return [va, vb, SIMD3<Double>(cx, cy, cz)]
    }

    /// Cell volume in cubic Angstrom.
    public var volume: Double {
        let v = vectors
        let cross = SIMD3<Double>(v[1].y * v[2].z - v[1].z * v[2].y,
                                  v[1].z * v[2].x - v[1].x * v[2].z,
                                  v[1].x * v[2].y - v[1].y * v[2].x)
        return abs((v[0] * cross).sum())
    }

    /// True when all three angles are 90 degrees (within 1e-6).
    public var isOrthorhombic: Bool {
        abs(alpha - 90) < 1e-6 && abs(beta - 90) < 1e-6 && abs(gamma - 90) < 1e-6
    }
}
