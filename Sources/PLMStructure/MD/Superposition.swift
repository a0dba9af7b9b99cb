import COpenBLAS
import Foundation

/// Least-squares superposition of one point set on a reference (Kabsch problem).
///
/// Solved with Horn's quaternion method: the optimal rotation is the eigenvector of the
/// largest eigenvalue of the 4x4 symmetric "key" matrix built from the 3x3
/// cross-covariance, found with LAPACK `dsyevr` (OpenBLAS). This is the problem QCP
/// (MDTraj's `superpose`) solves; it always yields a proper rotation (no reflection),
/// like Kabsch with the determinant correction. With fewer than two points the rotation
/// is undefined and the identity is used (MDTraj's QCP returns the identity too).
public enum MDSuperposition {
    /// Centroid of `count` points stored as x, y, z triples.
    public static func centroid(_ p: UnsafePointer<Double>, count n: Int) -> SIMD3<Double> {
        var c = SIMD3<Double>.zero
        for i in 0 ..< n { c += SIMD3(p[3 * i], p[3 * i + 1], p[3 * i + 2]) }
        return n > 0 ? c / Double(n) : c
    }

    /// Rotation (row-major 3x3) that best maps centred `mobile` onto centred `reference`:
    /// minimises sum |R (m_i - cm) - (r_i - cr)|^2.
    public static func rotation(mobile: UnsafePointer<Double>, mobileCentroid cm: SIMD3<Double>,
                                reference: UnsafePointer<Double>, referenceCentroid cr: SIMD3<Double>,
                                count n: Int) -> [Double] {
        let identity: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        guard n >= 2 else { return identity }
        // S_ab = sum (m_a)(r_b) over centred coordinates.
        var s = [Double](repeating: 0, count: 9)
        for i in 0 ..< n {
            let m = SIMD3(mobile[3 * i], mobile[3 * i + 1], mobile[3 * i + 2]) - cm
            let r = SIMD3(reference[3 * i], reference[3 * i + 1], reference[3 * i + 2]) - cr
            for a in 0 ..< 3 { for b in 0 ..< 3 { s[3 * a + b] += m[a] * r[b] } }
        }
        let (sxx, sxy, sxz, syx, syy, syz, szx, szy, szz) = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])
        // Horn's key matrix (column-major == row-major, symmetric).
        var k: [Double] = [
            sxx + syy + szz, syz - szy, szx - sxz, sxy - syx,
            syz - szy, sxx - syy - szz, sxy + syx, szx + sxz,
            szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy,
            sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz,
        ]
        guard let q = largestEigenvector4(&k) else { return identity }
        let (q0, q1, q2, q3) = (q[0], q[1], q[2], q[3])
        return [
            q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3, 2 * (q1 * q2 - q0 * q3), 2 * (q1 * q3 + q0 * q2),
            2 * (q1 * q2 + q0 * q3), q0 * q0 - q1 * q1 + q2 * q2 - q3 * q3, 2 * (q2 * q3 - q0 * q1),
            2 * (q1 * q3 - q0 * q2), 2 * (q2 * q3 + q0 * q1), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3,
        ]
    }

    /// Superposes `mobile` (x, y, z triples, `count` points) on `reference` in place:
    /// x' = R (x - c_mobile) + c_reference.
    public static func superpose(_ mobile: UnsafeMutablePointer<Double>, onto reference: UnsafePointer<Double>,
                                 referenceCentroid cr: SIMD3<Double>, count n: Int) {
        let cm = centroid(mobile, count: n)
        let r = rotation(mobile: mobile, mobileCentroid: cm, reference: reference, referenceCentroid: cr, count: n)
        for i in 0 ..< n {
            let p = SIMD3(mobile[3 * i], mobile[3 * i + 1], mobile[3 * i + 2]) - cm
            mobile[3 * i] = r[0] * p.x + r[1] * p.y + r[2] * p.z + cr.x
            mobile[3 * i + 1] = r[3] * p.x + r[4] * p.y + r[5] * p.z + cr.y
            mobile[3 * i + 2] = r[6] * p.x + r[7] * p.y + r[8] * p.z + cr.z
        }
    }

    /// Unit eigenvector of the largest eigenvalue of a symmetric 4x4 matrix (LAPACK dsyevr).
    static func largestEigenvector4(_ a: inout [Double]) -> [Double]? {
        var jobz = Int8(UInt8(ascii: "V")), range = Int8(UInt8(ascii: "I")), uplo = Int8(UInt8(ascii: "U"))
        var n: Int32 = 4, lda: Int32 = 4, il: Int32 = 4, iu: Int32 = 4, m: Int32 = 0, ldz: Int32 = 4, info: Int32 = 0
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var w = [Double](repeating: 0, count: 4), z = [Double](repeating: 0, count: 4)
        var isuppz = [Int32](repeating: 0, count: 2)
        var work = [Double](repeating: 0, count: 26 * 4), iwork = [Int32](repeating: 0, count: 10 * 4)
        var lwork: Int32 = 26 * 4, liwork: Int32 = 10 * 4
        dsyevr_(&jobz, &range, &uplo, &n, &a, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &work, &lwork, &iwork, &liwork, &info)
        guard info == 0, m == 1 else { return nil }
        let norm = (z[0] * z[0] + z[1] * z[1] + z[2] * z[2] + z[3] * z[3]).squareRoot()
        return norm > 0 ? z.map { $0 / norm } : nil
    }
}
