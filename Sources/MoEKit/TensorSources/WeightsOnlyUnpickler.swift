/// A storage named by a pickle's persistent id: the bytes of zip entry `data/<key>`, holding
/// `elementCount` elements of `format`.
struct TorchStorageReference: Equatable {
    let key: String
    let format: WeightFormat
    let elementCount: Int
}

/// One `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, …)` call, not yet
/// checked against the archive. Offsets and strides count elements, not bytes.
struct TorchTensorRecord: Equatable {
    let storage: TorchStorageReference
    let storageOffset: Int
    let shape: [Int]
    let stride: [Int]
    /// Where the REDUCE that built it sits in the pickle, for error messages.
    let position: Int
}

/// A pickle reader that executes nothing. A pickle is a program for a stack machine that may
/// import and call anything; this one runs only the opcodes and globals a `torch.save` of a state
/// dict uses (the allow-lists of torch's own weights-only unpickler, narrowed to state dicts) and
/// interprets the few permitted calls itself. Anything else is a one-line error naming the opcode
/// or global and its byte position.
///
/// Containers live in arrays owned by the reader and values refer to them by index, as Python
/// objects refer to each other by reference: a memoised dict that is filled later is the same dict
/// when fetched again, nothing is ever walked recursively, and a hostile pickle cannot build a
/// structure whose release or traversal recurses deeply enough to overflow the stack.
struct WeightsOnlyUnpickler {
    private enum Value {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case global(module: String, name: String)
        case tuple(Int)
        case list(Int)
        case dict(Int)
        case emptySet
        case storage(TorchStorageReference)
        case tensor(TorchTensorRecord)
    }

    private let bytes: UnsafeRawBufferPointer
    private let path: String
    private let entryName: String
    private var cursor = 0
    /// Where the opcode being executed starts, the position every error names.
    private var opcodeStart = 0
    private var stack: [Value] = []
    /// Stack heights at each open MARK; nothing below the innermost one can be popped except by
    /// the opcodes that close it.
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]
    private var tuples: [[Value]] = []
    private var lists: [[Value]] = []
    private var dicts: [[(key: Value, value: Value)]] = []

    /// `entryName` is the pickle's zip entry, used with `path` in error messages.
    init(bytes: UnsafeRawBufferPointer, path: String, entryName: String) {
        self.bytes = bytes
        self.path = path
        self.entryName = entryName
    }

    /// Runs the pickle and returns its state dict's (name, tensor) pairs in the pickle's order.
    mutating func stateDict() throws -> [(name: String, tensor: TorchTensorRecord)] {
        let result = try run()
        guard case .dict(let index) = result else { throw fail("the pickle's result is \(describe(result)), not a state dict") }
        var pairs: [(name: String, tensor: TorchTensorRecord)] = []
        var positionByName: [String: Int] = [:]
        for (key, value) in dicts[index] {
            guard case .string(let name) = key else { throw fail("state dict key \(describe(key)) is not a string") }
            guard case .tensor(let tensor) = value else { throw fail("state dict value for \(name.quotedForMessage) is \(describe(value)), not a tensor") }
            // A repeated key replaces the earlier value in place, as a Python dict does.
            if let earlier = positionByName[name] { pairs[earlier].tensor = tensor } else {
                positionByName[name] = pairs.count
                pairs.append((name, tensor))
            }
        }
        return pairs
    }

    // MARK: - The machine

    private mutating func run() throws -> Value {
        while cursor < bytes.count {
            opcodeStart = cursor
            let opcode = bytes[cursor]
            cursor += 1
            switch opcode {
            case 0x80: _ = try take(1)                                     // PROTO: the version does not matter, the opcodes do
            case 0x2E:                                                     // STOP
                guard marks.isEmpty else { throw fail("STOP inside an unclosed MARK") }
                return try pop()
            case 0x28: marks.append(stack.count)                           // MARK
            case 0x4E: stack.append(.none)                                 // NONE
            case 0x88: stack.append(.bool(true))                           // NEWTRUE
            case 0x89: stack.append(.bool(false))                          // NEWFALSE
            case 0x4B: stack.append(.int(Int(try take(1)[0])))             // BININT1
            case 0x4D: stack.append(.int(Int(try littleEndian(2))))        // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))  // BININT
            case 0x8A: stack.append(.int(try long1()))                     // LONG1
            case 0x47: stack.append(.float(Double(bitPattern: try bigEndian(8))))  // BINFLOAT
            case 0x58: stack.append(.string(try text(length: Int(try littleEndian(4)))))  // BINUNICODE
            case 0x55: stack.append(.string(try text(length: Int(try take(1)[0]))))       // SHORT_BINSTRING
            case 0x29: stack.append(newTuple([]))                          // EMPTY_TUPLE
            case 0x85: stack.append(newTuple(try pop(1)))                  // TUPLE1
            case 0x86: stack.append(newTuple(try pop(2)))                  // TUPLE2
            case 0x87: stack.append(newTuple(try pop(3)))                  // TUPLE3
            case 0x74: stack.append(newTuple(try popToMark()))             // TUPLE
            case 0x5D: lists.append([]); stack.append(.list(lists.count - 1))   // EMPTY_LIST
            case 0x7D: dicts.append([]); stack.append(.dict(dicts.count - 1))   // EMPTY_DICT
            case 0x8F: stack.append(.emptySet)                             // EMPTY_SET
            case 0x61: try append(try pop(1))                              // APPEND
            case 0x65: try append(try popToMark())                         // APPENDS
            case 0x73: try setItems(try pop(2))                            // SETITEM
            case 0x75: try setItems(try popToMark())                       // SETITEMS
            case 0x68: try fetch(Int(try take(1)[0]))                      // BINGET
            case 0x6A: try fetch(Int(try littleEndian(4)))                 // LONG_BINGET
            case 0x71: try store(Int(try take(1)[0]))                      // BINPUT
            case 0x72: try store(Int(try littleEndian(4)))                 // LONG_BINPUT
            case 0x63: stack.append(try global())                          // GLOBAL
            case 0x51: stack.append(.storage(try persistentStorage(try pop())))  // BINPERSID
            case 0x52: try reduce()                                        // REDUCE
            case 0x81: try newObject()                                     // NEWOBJ
            case 0x62: try build()                                         // BUILD
            default:
                throw fail("opcode \(Self.opcodeName(opcode)) is not allowed in a weights-only state dict")
            }
        }
        throw fail("truncated: the pickle ends without STOP")
    }

    // MARK: Reading operands

    /// The next `count` bytes; a length beyond what remains is an error, never a long read.
    private mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count <= bytes.count - cursor else {
            throw fail("truncated: operand needs \(count) bytes, \(bytes.count - cursor) remain")
        }
        defer { cursor += count }
        return UnsafeRawBufferPointer(rebasing: bytes[cursor..<cursor + count])
    }

    private mutating func littleEndian(_ count: Int) throws -> UInt64 {
        try take(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func bigEndian(_ count: Int) throws -> UInt64 {
        try take(count).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// LONG1: a length byte, then that many bytes of two's-complement little-endian integer.
    private mutating func long1() throws -> Int {
        let count = Int(try take(1)[0])
        guard count <= 8 else { throw fail("LONG1 integer of \(count) bytes is wider than 64 bits") }
        if count == 0 { return 0 }
        let magnitude = try littleEndian(count)
        let unusedBits = UInt64(64 - 8 * count)
        return Int(truncatingIfNeeded: Int64(bitPattern: magnitude << unusedBits) >> Int64(unusedBits))
    }

    private mutating func text(length: Int) throws -> String {
        let utf8 = try take(length)
        guard let string = String(validating: utf8, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return string
    }

    private mutating func line() throws -> String {
        guard let end = bytes[cursor...].firstIndex(of: 0x0A) else { throw fail("truncated: GLOBAL name without a newline") }
        let string = try text(length: end - cursor)
        cursor += 1
        return string
    }

    // MARK: Stack, marks and memo

    private mutating func pop() throws -> Value { try pop(1)[0] }

    private mutating func pop(_ count: Int) throws -> [Value] {
        let bottom = marks.last ?? 0
        guard stack.count - bottom >= count else { throw fail("stack underflow: \(Self.opcodeName(bytes[opcodeStart])) needs \(count) values, \(stack.count - bottom) available") }
        defer { stack.removeLast(count) }
        return Array(stack.suffix(count))
    }

    private mutating func popToMark() throws -> [Value] {
        guard let mark = marks.popLast() else { throw fail("\(Self.opcodeName(bytes[opcodeStart])) without a MARK") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func fetch(_ index: Int) throws {
        guard let value = memo[index] else { throw fail("memo \(index) fetched but never stored") }
        stack.append(value)
    }

    private mutating func store(_ index: Int) throws {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow: nothing to memoise") }
        memo[index] = top
    }

    private mutating func newTuple(_ items: [Value]) -> Value {
        tuples.append(items)
        return .tuple(tuples.count - 1)
    }

    private mutating func append(_ items: [Value]) throws {
        guard case .list(let index) = try top() else { throw fail("APPEND to \(describe(try top())), not a list") }
        lists[index] += items
    }

    private mutating func setItems(_ items: [Value]) throws {
        guard case .dict(let index) = try top() else { throw fail("SETITEM on \(describe(try top())), not a dict") }
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
        for pair in stride(from: 0, to: items.count, by: 2) { dicts[index].append((items[pair], items[pair + 1])) }
    }

    private func top() throws -> Value {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow: \(Self.opcodeName(bytes[opcodeStart])) needs a target") }
        return value
    }

    // MARK: Globals and the calls they allow

    private static let storageFormats: [String: WeightFormat] = ["FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16]

    private mutating func global() throws -> Value {
        let module = try line()
        let name = try line()
        let allowed = (module == "collections" && name == "OrderedDict")
            || (module == "torch._utils" && name == "_rebuild_tensor_v2")
            || (module == "torch" && Self.storageFormats[name] != nil)
        guard allowed else {
            throw fail("GLOBAL \("\(module) \(name)".quotedForMessage) is not allowed (a weights-only state dict uses collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.FloatStorage/HalfStorage/BFloat16Storage)")
        }
        return .global(module: module, name: name)
    }

    /// BINPERSID's id, `('storage', torch.<Type>Storage, key, location, element count)`, names a
    /// storage in the archive instead of embedding it.
    private func persistentStorage(_ id: Value) throws -> TorchStorageReference {
        guard case .tuple(let index) = id, tuples[index].count == 5, case .string("storage") = tuples[index][0] else {
            throw fail("BINPERSID of \(describe(id)), not a ('storage', type, key, location, size) tuple")
        }
        let fields = tuples[index]
        guard case .global("torch", let type) = fields[1], let format = Self.storageFormats[type] else {
            throw fail("BINPERSID storage type \(describe(fields[1])) is not FloatStorage, HalfStorage or BFloat16Storage")
        }
        guard case .string(let key) = fields[2] else { throw fail("BINPERSID storage key \(describe(fields[2])) is not a string") }
        guard case .int(let count) = fields[4], count >= 0 else { throw fail("BINPERSID storage size \(describe(fields[4])) is not a non-negative integer") }
        return TorchStorageReference(key: key, format: format, elementCount: count)
    }

    private mutating func reduce() throws {
        let popped = try pop(2)
        let (callable, arguments) = (popped[0], popped[1])
        guard case .tuple(let index) = arguments else { throw fail("REDUCE arguments are \(describe(arguments)), not a tuple") }
        switch callable {
        case .global("collections", "OrderedDict") where tuples[index].isEmpty:
            dicts.append([])
            stack.append(.dict(dicts.count - 1))
        case .global("torch._utils", "_rebuild_tensor_v2"):
            stack.append(.tensor(try rebuildTensor(tuples[index])))
        default:
            throw fail("REDUCE of \(describe(callable)) with \(tuples[index].count) argument\(tuples[index].count == 1 ? "" : "s") is not allowed")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private func rebuildTensor(_ arguments: [Value]) throws -> TorchTensorRecord {
        guard arguments.count == 6 || arguments.count == 7 else { throw fail("_rebuild_tensor_v2 with \(arguments.count) arguments (expected 6 or 7)") }
        guard case .storage(let storage) = arguments[0] else { throw fail("_rebuild_tensor_v2 storage is \(describe(arguments[0])), not a persistent storage") }
        guard case .int(let offset) = arguments[1], offset >= 0 else { throw fail("_rebuild_tensor_v2 storage offset \(describe(arguments[1])) is not a non-negative integer") }
        let shape = try integers(arguments[2], what: "size")
        let stride = try integers(arguments[3], what: "stride")
        guard shape.count == stride.count else { throw fail("_rebuild_tensor_v2 size has \(shape.count) dimensions but stride \(stride.count)") }
        guard case .bool = arguments[4] else { throw fail("_rebuild_tensor_v2 requires_grad is \(describe(arguments[4])), not a bool") }
        // Hooks and metadata only matter to autograd and tensor subclasses; they must still be
        // plain data, which the allow-lists already guarantee.
        guard case .dict = arguments[5] else { throw fail("_rebuild_tensor_v2 backward_hooks is \(describe(arguments[5])), not a dict") }
        return TorchTensorRecord(storage: storage, storageOffset: offset, shape: shape, stride: stride, position: opcodeStart)
    }

    private func integers(_ value: Value, what: String) throws -> [Int] {
        guard case .tuple(let index) = value else { throw fail("_rebuild_tensor_v2 \(what) is \(describe(value)), not a tuple") }
        return try tuples[index].map { item in
            guard case .int(let number) = item, number >= 0 else { throw fail("_rebuild_tensor_v2 \(what) holds \(describe(item)), not a non-negative integer") }
            return number
        }
    }

    /// NEWOBJ is `cls.__new__(cls, *args)`; of the allowed globals only OrderedDict is a class
    /// whose new instance is plain data.
    private mutating func newObject() throws {
        let popped = try pop(2)
        guard case .global("collections", "OrderedDict") = popped[0], case .tuple(let index) = popped[1], tuples[index].isEmpty else {
            throw fail("NEWOBJ of \(describe(popped[0])) is not allowed")
        }
        dicts.append([])
        stack.append(.dict(dicts.count - 1))
    }

    /// BUILD sets attributes: a module's `state_dict()` carries `_metadata` (per-module versions)
    /// this way. The state is plain data and tells nothing about the tensors, so it is dropped.
    private mutating func build() throws {
        let state = try pop()
        guard case .dict = try top() else { throw fail("BUILD on \(describe(try top())) (only a state dict's attributes can be set)") }
        guard case .dict = state else { throw fail("BUILD with state \(describe(state)), not a dict") }
    }

    // MARK: Messages

    private func fail(_ why: String) -> CheckpointError {
        CheckpointError(file: path, "\(entryName.quotedForMessage) byte \(opcodeStart): \(why)")
    }

    /// A short, shallow description: never walks into containers.
    private func describe(_ value: Value) -> String {
        switch value {
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let number): return "integer \(number)"
        case .float(let number): return "float \(number)"
        case .string(let string): return "string \(String(string.prefix(40)).quotedForMessage)"
        case .global(let module, let name): return "\("\(module).\(name)".quotedForMessage)"
        case .tuple(let index): return "a tuple of \(tuples[index].count)"
        case .list: return "a list"
        case .dict: return "a dict"
        case .emptySet: return "a set"
        case .storage(let storage): return "storage \(storage.key.quotedForMessage)"
        case .tensor: return "a tensor"
        }
    }

    /// Pickle opcode names (protocols 0–5), so that a refused opcode is named as Python names it.
    private static func opcodeName(_ opcode: UInt8) -> String {
        let names: [UInt8: String] = [
            0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
            0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
            0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
            0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
            0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
            0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
            0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
            0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
            0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4",
            0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
            0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
            0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
            0x98: "READONLY_BUFFER",
        ]
        let hex = "0x" + String(opcode, radix: 16, uppercase: true)
        return names[opcode].map { "\($0) (\(hex))" } ?? "unknown opcode \(hex)"
    }
}
