import Foundation

/// A trainer checkpoint is complete or absent. Each one is written into its own directory,
///   run/checkpoint/step-000100/   model.safetensors, config.json, optimiser.safetensors, state.json
/// every file is fsynced, and then `manifest.json` (each file's size and CRC-32) is written last,
/// fsynced, and the directory fsynced: the manifest is the commit. Resuming takes the newest
/// directory with a manifest and checks every file against it, so a kill between two writes
/// leaves the previous checkpoint in charge, and a damaged one is a one-line error — never a run
/// that silently continues from mismatched files or from step 0.
extension Trainer {
    struct Manifest: Codable {
        struct File: Codable, Equatable {
            var bytes: Int
            var crc32: UInt32
        }
        var step: Int
        var files: [String: File]
    }

    static let checkpointFiles = ["model.safetensors", "config.json", "optimiser.safetensors", "state.json"]

    var checkpointRoot: String { path("checkpoint") }

    static func stepDirectoryName(_ step: Int) -> String { String(format: "step-%09d", step) }

    /// Step directories under `checkpoint/`, newest first.
    func stepDirectories() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointRoot)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)), step >= 0 else { return nil }
            return (step, (checkpointRoot as NSString).appendingPathComponent(name))
        }.sorted { $0.0 > $1.0 }
    }

    /// Writes the checkpoint of the current step (see the type's comment for the order).
    func checkpoint() throws {
        state.step = step
        guard state.trainLoss.isFinite else { throw TrainingError.nonFiniteLoss(step: step) }
        if let validation = state.validationLoss, !validation.isFinite { state.validationLoss = nil }
        let directory = (checkpointRoot as NSString).appendingPathComponent(Self.stepDirectoryName(step))
        // This step is committed already (the end of a run that just checkpointed): keep it.
        if FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("manifest.json")) { return }
        try? FileManager.default.removeItem(atPath: directory) // an incomplete attempt at this step
        try store.save(to: directory, dtype: .f32)
        try checkpointWritten("model.safetensors")
        try checkpointWritten("config.json")
        var optimiserWriter = SafeTensorsWriter()
        optimiserWriter.add("moments", shape: [store.count], values: optimiser.moments)
        optimiserWriter.add("velocities", shape: [store.count], values: optimiser.velocities)
        optimiserWriter.metadata = ["step": "\(optimiser.step)"]
        try optimiserWriter.write(to: (directory as NSString).appendingPathComponent("optimiser.safetensors"))
        try checkpointWritten("optimiser.safetensors")
        try AtomicFile.write(try JSONEncoder().encode(state), to: (directory as NSString).appendingPathComponent("state.json"))
        try checkpointWritten("state.json")
        var files: [String: Manifest.File] = [:]
        for name in Self.checkpointFiles {
            let file = (directory as NSString).appendingPathComponent(name)
            try Self.fsync(file)
            files[name] = try Self.fingerprint(file)
        }
        try AtomicFile.write(try JSONEncoder().encode(Manifest(step: step, files: files)), to: (directory as NSString).appendingPathComponent("manifest.json"))
        try Self.fsync((directory as NSString).appendingPathComponent("manifest.json"))
        try Self.fsync(directory)
        try checkpointWritten("manifest.json")
        // Committed: older step directories, complete or not, and a pre-manifest layout go.
        for older in stepDirectories() where older.step != step { try? FileManager.default.removeItem(atPath: older.path) }
        for name in Self.checkpointFiles { unlink((checkpointRoot as NSString).appendingPathComponent(name)) }
        try? Self.fsync(checkpointRoot)
    }

    /// Test hook: called after each checkpoint file is in place (a throw simulates a kill there).
    func checkpointWritten(_ name: String) throws { try afterCheckpointWrite?(name) }

    /// Whether the run directory holds anything to resume from (a kill before the first
    /// manifest leaves nothing: the run starts from step 0).
    func hasCheckpoint() throws -> Bool {
        if stepDirectories().contains(where: { FileManager.default.fileExists(atPath: ($0.path as NSString).appendingPathComponent("manifest.json")) }) {
            return true
        }
        // Runs made before the manifest kept the files directly in checkpoint/.
        let legacy = Self.checkpointFiles.filter { FileManager.default.fileExists(atPath: (checkpointRoot as NSString).appendingPathComponent($0)) }
        guard !legacy.isEmpty else { return false }
        guard legacy.contains("state.json") else {
            throw CheckpointError(file: (checkpointRoot as NSString).appendingPathComponent("state.json"),
                                  "missing beside \(legacy.joined(separator: ", ")); the checkpoint is incomplete (remove \(checkpointRoot) to start from step 0)")
        }
        return true
    }

    func resume() throws {
        let directory: String
        if let newest = stepDirectories().first(where: { FileManager.default.fileExists(atPath: ($0.path as NSString).appendingPathComponent("manifest.json")) }) {
            directory = newest.path
            try verify(directory, step: newest.step)
        } else {
            directory = checkpointRoot
        }
        let statePath = (directory as NSString).appendingPathComponent("state.json")
        do {
            state = try JSONDecoder().decode(State.self, from: SmallFile.contents(statePath, maximumBytes: 1 << 20))
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(file: statePath, "not a trainer state (expected step, trainLoss, tokensSeen, seconds)")
        }
        guard state.step >= 0, state.step <= plan.steps else {
            throw CheckpointError(file: statePath, "step \(state.step) is outside this plan's 0…\(plan.steps)")
        }
        try store.load(from: CheckpointWeights(directory: directory))
        let optimiserFile = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent("optimiser.safetensors"))
        guard let moments = optimiserFile.tensors["moments"], let velocities = optimiserFile.tensors["velocities"],
              moments.elementCount == store.count, velocities.elementCount == store.count,
              let optimiserStep = Int(optimiserFile.metadata["step"] ?? ""), optimiserStep == state.step else {
            throw CheckpointError(file: optimiserFile.path, "optimiser state does not match the model or state.json's step")
        }
        optimiser.restore(step: optimiserStep, moments: moments.floats(), velocities: velocities.floats())
        step = state.step
    }

    /// Every file of a committed checkpoint has the size and checksum its manifest recorded.
    func verify(_ directory: String, step: Int) throws {
        let manifestPath = (directory as NSString).appendingPathComponent("manifest.json")
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: SmallFile.contents(manifestPath, maximumBytes: 1 << 20)),
              manifest.step == step, Set(manifest.files.keys) == Set(Self.checkpointFiles) else {
            throw CheckpointError(file: manifestPath, "damaged checkpoint manifest (remove \(directory) to resume from nothing)")
        }
        for name in Self.checkpointFiles.sorted() {
            let file = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file) else { throw CheckpointError(file: file, "missing from a committed checkpoint") }
            guard try Self.fingerprint(file) == manifest.files[name] else {
                throw CheckpointError(file: file, "does not match the checkpoint manifest (size or CRC-32): the checkpoint is damaged")
            }
        }
    }

    /// Size and CRC-32 read through a mapping: a checkpoint of a large model is not copied into
    /// memory to be checked.
    static func fingerprint(_ path: String) throws -> Manifest.File {
        let file = try MappedFile(path: path)
        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(start: file.base, count: file.size))
        return Manifest.File(bytes: file.size, crc32: crc.checksum)
    }

    /// Flushes a file's (or a directory's entries') data to the device.
    static func fsync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw CheckpointError(file: path, "cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard Foundation.fsync(descriptor) == 0 else { throw CheckpointError(file: path, "cannot sync: \(String(cString: strerror(errno)))") }
    }
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFiniteLoss(step: Int)
    case corpusTooShort(tokens: Int, needed: Int, split: String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step):
            return "the training loss is not finite at step \(step) (diverged: lower peakLearningRate or gradientClip); the last checkpoint is kept"
        case .corpusTooShort(let tokens, let needed, let split):
            return "the \(split) corpus has \(tokens) tokens; a window of the plan's length needs at least \(needed)"
        }
    }
}
