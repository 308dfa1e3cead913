// ncursesw (Debian: libncurses-dev) behind small non-variadic, non-macro wrappers that Swift
// can call: wide-character input, styled UTF-8 output, mouse, colours.
#ifndef MOEPP_NCURSES_SHIM_H
#define MOEPP_NCURSES_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <ncursesw/curses.h>
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static inline int moepp_screen_start(void) {
    if (initscr() == NULL) return -1;
    raw(); noecho(); keypad(stdscr, TRUE); nonl(); curs_set(0);
    set_escdelay(25);
    return 0;
}
/// Key codes for the bracketed-paste markers ESC[200~ and ESC[201~ (above ncurses' own).
static inline int moepp_key_paste_start(void) { return KEY_MAX + 1; }
static inline int moepp_key_paste_end(void) { return KEY_MAX + 2; }
/// Bracketed paste (xterm mode 2004): the terminal wraps a paste in ESC[200~ … ESC[201~, so a
/// paste arrives as one prompt instead of as typed keys (each newline an Enter).
static inline void moepp_bracketed_paste(int on) {
    if (on) {
        define_key("\033[200~", KEY_MAX + 1);
        define_key("\033[201~", KEY_MAX + 2);
    }
    fputs(on ? "\033[?2004h" : "\033[?2004l", stdout);
    fflush(stdout);
}
static inline void moepp_screen_end(void) { if (!isendwin()) { endwin(); moepp_bracketed_paste(0); } }
/// Puts a character read too far back (after an ESC that was not Alt+Enter).
static inline void moepp_unget(unsigned int code, int isKey) { if (isKey) ungetch((int)code); else unget_wch((wchar_t)code); }
static inline int moepp_is_ended(void) { return isendwin(); }
static inline int moepp_lines(void) { return getmaxy(stdscr); }
static inline int moepp_columns(void) { return getmaxx(stdscr); }
/// Asks the terminal for its size and resizes ncurses' screen when it changed: resizing then
/// works even when SIGWINCH lands on another thread. Returns 1 when the size changed.
static inline int moepp_sync_size(void) {
    struct winsize size;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_row == 0 || size.ws_col == 0) return 0;
    if (size.ws_row == getmaxy(stdscr) && size.ws_col == getmaxx(stdscr)) return 0;
    resizeterm(size.ws_row, size.ws_col);
    return 1;
}
static inline void moepp_input_timeout(int milliseconds) { timeout(milliseconds); }

static inline int moepp_colors_start(void) {
    if (!has_colors()) return 0;
    start_color();
    use_default_colors();
    return COLORS;
}
static inline void moepp_pair(short pair, short foreground, short background) { init_pair(pair, foreground, background); }

/// attributes: 1 bold, 2 dim, 4 reverse, 8 underline.
static inline void moepp_style(short pair, int attributes) {
    attr_t a = A_NORMAL;
    if (attributes & 1) a |= A_BOLD;
    if (attributes & 2) a |= A_DIM;
    if (attributes & 4) a |= A_REVERSE;
    if (attributes & 8) a |= A_UNDERLINE;
    attrset(a | COLOR_PAIR(pair));
}
static inline void moepp_put(int y, int x, const char *utf8) { mvaddstr(y, x, utf8); }
static inline void moepp_erase(void) { erase(); }
static inline void moepp_refresh(void) { refresh(); }
static inline void moepp_clear(void) { clear(); }

/// Reads one input: returns 0 nothing, 1 a character in *code, 2 a function key in *code.
static inline int moepp_read(unsigned int *code) {
    wint_t ch = 0;
    int status = get_wch(&ch);
    *code = (unsigned int)ch;
    if (status == ERR) return 0;
    return status == KEY_CODE_YES ? 2 : 1;
}

static inline void moepp_mouse_enable(void) {
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
}
/// 1 left click, 4 wheel up, 5 wheel down, 0 other; position in *y, *x.
static inline int moepp_mouse(int *y, int *x) {
    MEVENT event;
    if (getmouse(&event) != OK) return 0;
    *y = event.y; *x = event.x;
    if (event.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) return 1;
    if (event.bstate & BUTTON4_PRESSED) return 4;
    if (event.bstate & BUTTON5_PRESSED) return 5;
    return 0;
}

static inline int moepp_key_f(int n) { return KEY_F(n); }
static inline int moepp_key_up(void) { return KEY_UP; }
static inline int moepp_key_down(void) { return KEY_DOWN; }
static inline int moepp_key_left(void) { return KEY_LEFT; }
static inline int moepp_key_right(void) { return KEY_RIGHT; }
static inline int moepp_key_home(void) { return KEY_HOME; }
static inline int moepp_key_end(void) { return KEY_END; }
static inline int moepp_key_page_up(void) { return KEY_PPAGE; }
static inline int moepp_key_page_down(void) { return KEY_NPAGE; }
static inline int moepp_key_backspace(void) { return KEY_BACKSPACE; }
static inline int moepp_key_delete(void) { return KEY_DC; }
static inline int moepp_key_enter(void) { return KEY_ENTER; }
static inline int moepp_key_back_tab(void) { return KEY_BTAB; }
static inline int moepp_key_resize(void) { return KEY_RESIZE; }
static inline int moepp_key_mouse(void) { return KEY_MOUSE; }

/// Whether the C library's character set (after setlocale) is UTF-8.
static inline int moepp_locale_is_utf8(void) {
    setlocale(LC_ALL, "");
    const char *codeset = nl_langinfo(CODESET);
    return codeset != NULL && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}
static inline int moepp_char_width(unsigned int scalar) { return wcwidth((wchar_t)scalar); }
#endif
