// Getting the terminal back whatever happens: signals, crashes, a vanished terminal.
#ifndef MOEPP_TERMINAL_RESTORE_H
#define MOEPP_TERMINAL_RESTORE_H

/// Call before taking the screen: remembers the terminal modes and routes SIGTERM, SIGHUP,
/// SIGQUIT, SIGINT and the crash signals to an async-signal-safe restore that then exits.
void moepp_install_restore(void);

/// 1 once the terminal has gone away (window closed, multiplexer killed), else 0.
int moepp_terminal_gone(void);

#endif
