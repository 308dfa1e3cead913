#include "terminal_restore.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

// The terminal as it was before we took it.
static struct termios saved_termios;
static int have_saved_termios = 0;

// Only async-signal-safe calls: put the saved modes back, reset attributes, show the cursor,
// stop mouse reporting and bracketed paste, leave the alternate screen, exit with 128 + the signal.
static void emergency_restore(int signal_number) {
    if (have_saved_termios) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    static const char reset[] = "\033[0m\033[?25h\033[?1000l\033[?1002l\033[?1006l\033[?2004l\033[?1049l\r\n";
    ssize_t ignored = write(STDOUT_FILENO, reset, sizeof reset - 1);
    (void)ignored;
    _exit(128 + signal_number);
}

void moepp_install_restore(void) {
    if (tcgetattr(STDIN_FILENO, &saved_termios) == 0) have_saved_termios = 1;
    int signals[] = { SIGTERM, SIGHUP, SIGQUIT, SIGINT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT };
    sigset_t set;
    sigemptyset(&set);
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = emergency_restore;
        action.sa_flags = SA_RESETHAND;
        sigaction(signals[i], &action, NULL);
        sigaddset(&set, signals[i]);
    }
    // Runtimes may start threads with these blocked; a blocked SIGHUP would never arrive.
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int moepp_terminal_gone(void) {
    struct pollfd descriptor = { STDIN_FILENO, POLLIN, 0 };
    if (poll(&descriptor, 1, 0) > 0 && (descriptor.revents & (POLLHUP | POLLERR | POLLNVAL))) return 1;
    return 0;
}
