#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs a program for the tests with `posix_spawn` and `waitpid`, not `Foundation.Process`.
///
/// Why: on Linux, `Process` learns that a child exited when a socket it hands the child is
/// closed. A child that starts a daemon (the first `tmux` command starts the tmux server) passes
/// that socket on, so `waitUntilExit()` never returns — CI hung 90 minutes on exactly that.
/// `waitpid` on the child's pid cannot be fooled that way, and our pipes are close-on-exec so no
/// grandchild keeps them open either.
public enum ChildProcess {
    private static let spawnLock = NSLock()

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the child outlived `timeout` and was killed.
        public var timedOut: Bool
    }

    public enum Failure: Error, CustomStringConvertible {
        case spawn(String, Int32)
        case pipe(Int32)
        public var description: String {
            switch self {
            case .spawn(let program, let code): return "cannot start \(program): \(String(cString: strerror(code)))"
            case .pipe(let code): return "cannot create a pipe: \(String(cString: strerror(code)))"
            }
        }
    }

    /// Runs `arguments[0]` (looked up in PATH) with the rest as its arguments. Standard input is
    /// /dev/null; standard output and error are captured when `capture` is true and discarded
    /// otherwise (a daemon then inherits nothing of ours). After `timeout` seconds the child is
    /// killed, so a test can fail but never hang.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:],
                           capture: Bool = true, timeout: Double = 120) throws -> Result {
        precondition(!arguments.isEmpty)
        // Pipes are made close-on-exec and spawned under one lock, so a child started by
        // another test at the same moment cannot inherit (and hold open) this child's pipes.
        spawnLock.lock()
        var locked = true
        defer { if locked { spawnLock.unlock() } }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        if capture {
            guard pipe(&outPipe) == 0 else { throw Failure.pipe(errno) }
            guard pipe(&errPipe) == 0 else { throw Failure.pipe(errno) }
            for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if capture {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }

        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        // The calling thread (a test-runner worker) blocks most signals, and a child inherits that
        // mask: a tmux server started that way ignores `kill-server`'s SIGTERM. Children start
        // with no signal blocked and default dispositions instead.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let code = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        if capture { close(outPipe[1]); close(errPipe[1]) }
        spawnLock.unlock()
        locked = false
        guard code == 0 else {
            if capture { close(outPipe[0]); close(errPipe[0]) }
            throw Failure.spawn(arguments[0], code)
        }

        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        var out = [UInt8](), err = [UInt8]()
        if capture {
            // Drain both pipes together: a child that fills one while we block on the other
            // would otherwise wait for us forever.
            var open = [outPipe[0], errPipe[0]]
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !open.isEmpty {
                if Date() >= deadline { kill(pid, SIGKILL); timedOut = true; break }
                var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                let ready = poll(&fds, nfds_t(fds.count), 200)
                if ready < 0 && errno != EINTR { break }
                for entry in fds where entry.revents != 0 {
                    let count = read(entry.fd, &buffer, buffer.count)
                    if count > 0 {
                        if entry.fd == outPipe[0] { out += buffer[0..<count] } else { err += buffer[0..<count] }
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        open.removeAll { $0 == entry.fd }
                    }
                }
            }
            close(outPipe[0]); close(errPipe[0])
        }

        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { break }
            if Date() >= deadline && !timedOut { kill(pid, SIGKILL); timedOut = true }
            usleep(2_000)
        }
        let exitCode: Int32
        if status & 0x7f == 0 { exitCode = (status >> 8) & 0xff } else { exitCode = 128 + (status & 0x7f) }
        return Result(status: exitCode, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
    }
}
