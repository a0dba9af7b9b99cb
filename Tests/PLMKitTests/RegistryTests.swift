import PLMKit
import Testing

@Suite("Plugin registry")
struct RegistryTests {
    @Test("register, look up, list sorted; duplicates and unknown kinds are errors")
    func registry() throws {
        let r = PluginRegistry()
        try r.register(PluginDescriptor(kind: "mlm", category: .target, summary: "masked LM", module: "MaskedLM"))
        try r.register(PluginDescriptor(kind: "contrastive_structure", category: .target, summary: "S-PLM", module: "X"))
        try r.register(PluginDescriptor(kind: "mlm", category: .tuning, summary: "same name, other category", module: "Y"))
        #expect(r.kinds(in: .target) == ["contrastive_structure", "mlm"])
        #expect(try r.lookup("mlm", in: .target).module == "MaskedLM")
        #expect(throws: RegistryError.duplicate(kind: "mlm", category: .target)) {
            try r.register(PluginDescriptor(kind: "mlm", category: .target, summary: "", module: ""))
        }
        do {
            _ = try r.lookup("mlmm", in: .target)
            Issue.record("lookup of an unknown kind succeeded")
        } catch let e as RegistryError {
            #expect(e.description == "unknown target kind 'mlmm'; registered: contrastive_structure, mlm")
        }
        #expect(r.all.count == 3)
    }
}
