import Foundation
import Testing
@testable import PLMStructure

@Suite("S-PLM contact / distance maps")
struct ContactMapTests {
    // Three atoms on the x axis at 0, 11 and 30 A: D = [[0, 11, 30], [11, 0, 19], [30, 19, 0]].
    static let xyz: [SIMD3<Double>] = [SIMD3(0, 0, 0), SIMD3(11, 0, 0), SIMD3(30, 0, 0)]

    @Test("distance matrix by hand")
    func distances() {
        #expect(ContactMap.distanceMatrix(Self.xyz) == [0, 11, 30, 11, 0, 19, 30, 19, 0])
        let d = ContactMap.distanceMatrix([SIMD3(1, 2, 3), SIMD3(4, 6, 3)])
        #expect(d == [0, 5, 5, 0])
        #expect(ContactMap.distanceMatrix([]).isEmpty)
    }

    @Test("three channels (d_c - clip(D, 0, d_c)) / d_c with thresholds 22, 11, 8")
    func channels() {
        let m = ContactMap.splmChannels(Self.xyz, thresholds: [22, 11, 8])
        #expect(m.count == 3 * 3 * 3)
        // channel 0, d_c 22: 11 -> 0.5, 19 -> 3/22, 30 -> 0, diagonal 1
        #expect(Array(m[0 ..< 9]) == [1, 0.5, 0, 0.5, 1, Float(3.0 / 22.0), 0, Float(3.0 / 22.0), 1])
        // channel 1, d_c 11: 11 -> 0 (clipped to d_c), everything else off-diagonal 0
        #expect(Array(m[9 ..< 18]) == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        // channel 2, d_c 8
        #expect(Array(m[18 ..< 27]) == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        // default: three identical channels at 22 A
        let def = ContactMap.splmChannels(Self.xyz)
        #expect(Array(def[0 ..< 9]) == Array(def[9 ..< 18]) && Array(def[0 ..< 9]) == Array(def[18 ..< 27]))
        #expect(def[1] == 0.5)
        #expect(ContactMap.transform(distance: -1, threshold: 22) == 1)  // clip at 0
    }

    @Test("padding with 0 after the transform, cropping to the first S residues")
    func padAndCrop() {
        let padded = ContactMap.splmChannels(Self.xyz, thresholds: [22], size: 5)
        #expect(padded.count == 25)
        #expect(Array(padded[0 ..< 5]) == [1, 0.5, 0, 0, 0])
        #expect(Array(padded[5 ..< 10]) == [0.5, 1, Float(3.0 / 22.0), 0, 0])
        #expect(Array(padded[15 ..< 25]) == [Float](repeating: 0, count: 10))  // rows 3, 4: padding (diagonal too)
        let cropped = ContactMap.splmChannels(Self.xyz, thresholds: [22, 8], size: 2)
        #expect(cropped == [1, 0.5, 0.5, 1, 1, 0, 0, 1])
    }

    @Test("2G3R: distances and channels match NumPy")
    func numpy() throws {
        let ref = try FixtureTensors(fixture: "2G3R_contact.safetensors")
        let s = try NMAFixtures.structure("2G3R.pdb")
        let xyz = try s.caTrace().coordinates
        #expect(xyz.count == 119)
        let d = ContactMap.distanceMatrix(xyz)
        let dd = Deviation(d, ref.doubles("distance"), rtol: 1e-12, floor: 1)
        #expect(dd.ok, "distance: \(dd)")
        let crop = ContactMap.splmChannels(distance: d, length: 119, thresholds: [22, 12, 8], size: 100)
        let refCrop = ref.floats("splm_t22_12_8_crop100")
        #expect(ref.shape("splm_t22_12_8_crop100") == [3, 100, 100])
        #expect(maxAbsDiff(crop, refCrop) <= 1.2e-7, "crop: \(firstMismatch(crop, refCrop))")
        let pad = ContactMap.splmChannels(distance: d, length: 119, size: 128)
        let refPad = ref.floats("splm_default_pad128")
        #expect(pad.count == 3 * 128 * 128)
        for c in 0 ..< 3 {
            let ch = Array(pad[c * 128 * 128 ..< (c + 1) * 128 * 128])
            #expect(maxAbsDiff(ch, refPad) <= 1.2e-7, "pad channel \(c): \(firstMismatch(ch, refPad))")
        }
        print("contact map vs NumPy 2G3R: distance \(dd); crop max abs \(maxAbsDiff(crop, refCrop))")
    }
}
