/// Everything that can be wrong with a model on disk. Each message is one line naming the file
/// and, where there is one, the tensor or config key, so that a user can find the fault.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let detail: String

    public init(file: String, _ detail: String) {
        self.file = file
        self.detail = detail
    }

    public var description: String { "\(file): \(detail)" }

    static func missingFile(_ path: String) -> CheckpointError { .init(file: path, "no such file") }
    static func missingTensor(_ name: String, file: String) -> CheckpointError { .init(file: file, "missing tensor '\(name)'") }
    static func badKey(_ key: String, file: String, _ why: String) -> CheckpointError { .init(file: file, "key '\(key)': \(why)") }
}
