/// `data.pkl` of a `torch.save`d state dict, opcode for opcode what torch (pickle protocol 2)
/// writes for an `OrderedDict` of contiguous tensors, each in its own storage:
///
///     OrderedDict() ; for each tensor: name → _rebuild_tensor_v2(
///         persistent_id(('storage', torch.<Type>Storage, key, 'cpu', numel)),
///         0, size, stride, False, OrderedDict())
///
/// Globals are memoised on first use and fetched afterwards, as Python's pickler does, and items
/// are set in batches of 1000 (Python's batch size), so the output reads like torch's own.
struct TorchStateDictPickle {
    struct Tensor {
        let name: String
        let format: WeightFormat
        let shape: [Int]
        let storageKey: String
    }

    private var bytes: [UInt8] = []
    private var memoIndexByGlobal: [String: Int] = [:]
    private var nextMemoIndex = 0

    static func encode(_ tensors: [Tensor]) -> [UInt8] {
        var pickle = TorchStateDictPickle()
        pickle.bytes = [0x80, 2]                                           // PROTO 2
        pickle.call("collections", "OrderedDict", arguments: [])
        pickle.memoise()                                                   // the state dict itself
        var start = 0
        while start < tensors.count {
            let batch = tensors[start..<min(start + 1000, tensors.count)]
            if batch.count > 1 { pickle.bytes.append(0x28) }               // MARK
            for tensor in batch {
                pickle.string(tensor.name)
                pickle.rebuildTensor(tensor)
            }
            pickle.bytes.append(batch.count > 1 ? 0x75 : 0x73)             // SETITEMS or SETITEM
            start += batch.count
        }
        pickle.bytes.append(0x2E)                                          // STOP
        return pickle.bytes
    }

    private mutating func rebuildTensor(_ tensor: Tensor) {
        global("torch._utils", "_rebuild_tensor_v2")
        bytes.append(0x28)                                                 // MARK: the arguments
        bytes.append(0x28)                                                 // MARK: the persistent id
        string("storage")
        global("torch", Self.storageType(tensor.format))
        string(tensor.storageKey)
        string("cpu")
        integer(tensor.shape.reduce(1, *))
        bytes.append(0x74)                                                 // TUPLE
        bytes.append(0x51)                                                 // BINPERSID
        integer(0)                                                         // storage offset
        tuple(tensor.shape)
        tuple(Self.contiguousStrides(tensor.shape))
        bytes.append(0x89)                                                 // NEWFALSE: requires_grad
        call("collections", "OrderedDict", arguments: [])                  // backward hooks: none
        bytes.append(0x74)                                                 // TUPLE
        bytes.append(0x52)                                                 // REDUCE
    }

    static func storageType(_ format: WeightFormat) -> String {
        switch format {
        case .f32: return "FloatStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .q8_0, .q4_0, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k: preconditionFailure("TorchCheckpointWriter refuses block formats before pickling")
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for dimension in shape.indices.reversed() {
            strides[dimension] = step
            step *= max(shape[dimension], 1)
        }
        return strides
    }

    // MARK: - Opcodes

    private mutating func call(_ module: String, _ name: String, arguments: [Int]) {
        global(module, name)
        tuple(arguments)
        bytes.append(0x52)                                                 // REDUCE
    }

    private mutating func global(_ module: String, _ name: String) {
        let key = module + " " + name
        if let index = memoIndexByGlobal[key] {
            fetch(index)
            return
        }
        bytes.append(0x63)                                                 // GLOBAL
        bytes += Array("\(module)\n\(name)\n".utf8)
        memoIndexByGlobal[key] = nextMemoIndex
        memoise()
    }

    private mutating func memoise() {
        if nextMemoIndex < 256 {
            bytes += [0x71, UInt8(nextMemoIndex)]                          // BINPUT
        } else {
            bytes.append(0x72)                                             // LONG_BINPUT
            littleEndian(UInt64(nextMemoIndex), count: 4)
        }
        nextMemoIndex += 1
    }

    private mutating func fetch(_ index: Int) {
        if index < 256 {
            bytes += [0x68, UInt8(index)]                                  // BINGET
        } else {
            bytes.append(0x6A)                                             // LONG_BINGET
            littleEndian(UInt64(index), count: 4)
        }
    }

    private mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(0x58)                                                 // BINUNICODE
        littleEndian(UInt64(utf8.count), count: 4)
        bytes += utf8
    }

    /// Python's choice: the shortest of BININT1, BININT2, BININT, else LONG1.
    private mutating func integer(_ value: Int) {
        switch value {
        case 0...0xFF: bytes += [0x4B, UInt8(value)]
        case 0...0xFFFF: bytes.append(0x4D); littleEndian(UInt64(value), count: 2)
        case Int(Int32.min)...Int(Int32.max): bytes.append(0x4A); littleEndian(UInt64(UInt32(bitPattern: Int32(value))), count: 4)
        default:
            // Two's complement, little-endian, as few bytes as keep the sign.
            var encoded: [UInt8] = []
            var rest = value
            repeat {
                encoded.append(UInt8(truncatingIfNeeded: rest))
                rest >>= 8
            } while !((rest == 0 && encoded.last! < 0x80) || (rest == -1 && encoded.last! >= 0x80))
            bytes += [0x8A, UInt8(encoded.count)] + encoded
        }
    }

    private mutating func tuple(_ values: [Int]) {
        switch values.count {
        case 0: bytes.append(0x29)                                         // EMPTY_TUPLE
        case 1...3:
            values.forEach { integer($0) }
            bytes.append(0x85 + UInt8(values.count - 1))                   // TUPLE1, TUPLE2, TUPLE3
        default:
            bytes.append(0x28)                                             // MARK
            values.forEach { integer($0) }
            bytes.append(0x74)                                             // TUPLE
        }
    }

    private mutating func littleEndian(_ value: UInt64, count: Int) {
        for shift in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift)))) }
    }
}
