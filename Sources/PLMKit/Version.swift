/// PLMKit's version (semantic versioning).
public enum PLMKitVersion {
    public static let string = "0.1.0"
}
