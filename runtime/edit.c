// The line editor of edit.h. libedit runs "unbuffered": each el_gets call
// takes one command from the bytes this file feeds it (its read function
// is ours), so the loop never blocks on the terminal. Tab is held back
// until the owner has prepared (a completion may need the network), then
// fed to libedit, whose bound function asks the owner for the completion.
#define _GNU_SOURCE  // wcwidth
#include "edit.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#define IN_MAX 65536
#define ESC_WAIT_MS 50   // a lone Esc is sent on if no sequence follows
#define CTRL_D 4

typedef enum { IDLE, READING, TAB_WAIT } state_t;

struct edit {
  EditLine *el;
  History *hist;
  FILE *in, *out;        // libedit's streams, on duplicates of the fds
  int in_fd;
  edit_opts_t opts;
  char *history_file;
  int history_size;
  char *prompt;
  char *saved_locale;    // LC_CTYPE before, restored on close
  state_t state;
  edit_event_t event;
  char *text;            // the pending event's
  uv_poll_t *poll;       // freed in its close callback
  uv_timer_t *esc_timer; // likewise
  int polling;
  int tab_ready;         // the owner prepared: feed the held Tab
  int flush_esc;         // feed an Esc even if no sequence follows
  mbstate_t mb;
  size_t in_pos, in_len;
  unsigned char in_buf[IN_MAX];  // typed bytes libedit has not had yet
};

static void pump(edit_t *ed);
static int columns(edit_t *ed);
static void esc_timer_cb(uv_timer_t *t);

// --- libedit's hooks -------------------------------------------------------------

static edit_t *editor_of(EditLine *el)
{
  void *ed = NULL;
  el_get(el, EL_CLIENTDATA, &ed);
  return ed;
}

// libedit's read function: the next character of what was typed, or 0
// when there is none yet (it then ends the current command).
static int read_char(EditLine *el, wchar_t *wc)
{
  edit_t *ed = editor_of(el);
  while (ed->in_pos < ed->in_len) {
    const char *p = (const char *)ed->in_buf + ed->in_pos;
    size_t n = mbrtowc(wc, p, ed->in_len - ed->in_pos, &ed->mb);
    if (n == (size_t)-2) {
      memset(&ed->mb, 0, sizeof ed->mb);
      return 0;  // the rest of the character has not come yet
    }
    if (n == (size_t)-1) {
      memset(&ed->mb, 0, sizeof ed->mb);
      ed->in_pos++;  // not text in this encoding: dropped
      continue;
    }
    ed->in_pos += n == 0 ? 1 : n;
    return 1;
  }
  return 0;
}

static char *prompt_of(EditLine *el)
{
  return editor_of(el)->prompt;
}

// Tab, once the owner prepared: insert what completes the word, or list
// the choices below the line and draw the line again under them.
static unsigned char complete_fn(EditLine *el, int ch)
{
  edit_t *ed = editor_of(el);
  const LineInfo *li = el_line(el);
  char *before = strndup(li->buffer, (size_t)(li->cursor - li->buffer));
  char *insert = NULL, *listing = NULL;
  if (before != NULL && ed->opts.complete != NULL) {
    ed->opts.complete(ed->opts.data, before, columns(ed), &insert, &listing);
  }
  unsigned char rv = CC_REFRESH;
  if (insert != NULL && insert[0] != '\0') {
    el_insertstr(el, insert);
  }
  if (listing != NULL && listing[0] != '\0') {
    fputs("\n", ed->out);
    fputs(listing, ed->out);
    rv = CC_REDISPLAY;
  }
  free(before);
  free(insert);
  free(listing);
  return rv;
}

// --- the terminal's bytes ------------------------------------------------------------

// Whether the next bytes make a whole key: a whole character, or an Esc
// with the rest of its sequence (arrow keys and the like).
static int key_ready(edit_t *ed)
{
  const unsigned char *p = ed->in_buf + ed->in_pos;
  size_t n = ed->in_len - ed->in_pos;
  if (n == 0) {
    return 0;
  }
  if (p[0] == 0x1b && !ed->flush_esc) {
    if (n == 1) {
      return 0;
    }
    if (p[1] != '[' && p[1] != 'O') {
      return 1;
    }
    for (size_t i = 2; i < n; i++) {
      if (p[i] >= 0x40 && p[i] <= 0x7e) {
        return 1;
      }
    }
    return n > 16;  // no sequence we know: libedit makes of it what it can
  }
  if (p[0] < 0x80) {
    return 1;
  }
  mbstate_t st;
  memset(&st, 0, sizeof st);
  wchar_t wc;
  return mbrtowc(&wc, (const char *)p, n, &st) != (size_t)-2;
}

static void notify(edit_t *ed, edit_event_t event, char *text)
{
  free(ed->text);
  ed->text = text;
  ed->event = event;
  if (ed->opts.notify != NULL) {
    ed->opts.notify(ed->opts.data);
  }
}

static void stop_reading(edit_t *ed)
{
  if (ed->polling) {
    uv_poll_stop(ed->poll);
    ed->polling = 0;
  }
  uv_timer_stop(ed->esc_timer);
}

// The line is over (entered, ended or dropped): the terminal goes back to
// its own mode until the next prompt.
static void finish(edit_t *ed, edit_event_t event, char *text)
{
  ed->state = IDLE;
  stop_reading(ed);
  el_set(ed->el, EL_UNBUFFERED, 0);
  fflush(ed->out);
  notify(ed, event, text);
}

// A Tab at the start of a line indents; elsewhere it waits for the
// owner's edit_resume.
static int hold_tab(edit_t *ed)
{
  const LineInfo *li = el_line(ed->el);
  size_t n = (size_t)(li->cursor - li->buffer);
  if (strspn(li->buffer, " ") >= n) {
    ed->in_pos++;
    el_insertstr(ed->el, "  ");
    el_set(ed->el, EL_REFRESH);
    return 0;
  }
  ed->state = TAB_WAIT;
  notify(ed, EDIT_TAB, strndup(li->buffer, n));
  return 1;
}

// Takes one command from the typed bytes; returns 0 when the line ended.
static int edit_one(edit_t *ed)
{
  int n = 0;
  const char *line = el_gets(ed->el, &n);
  ed->flush_esc = 0;
  if (line != NULL && n > 0 && line[n - 1] == '\n') {
    finish(ed, EDIT_LINE, strndup(line, (size_t)n - 1));
    return 0;
  }
  if (line != NULL && n == 1 && line[0] == CTRL_D) {
    fputs("\n", ed->out);
    finish(ed, EDIT_EOF, NULL);
    return 0;
  }
  return 1;
}

static void pump(edit_t *ed)
{
  while (ed->state == READING && key_ready(ed)) {
    if (ed->in_buf[ed->in_pos] == '\t' && !ed->tab_ready) {
      if (hold_tab(ed)) {
        break;
      }
      continue;
    }
    ed->tab_ready = 0;
    if (!edit_one(ed)) {
      break;
    }
  }
  if (ed->in_pos == ed->in_len) {
    ed->in_pos = ed->in_len = 0;
  } else if (ed->in_pos > IN_MAX / 2) {
    memmove(ed->in_buf, ed->in_buf + ed->in_pos, ed->in_len - ed->in_pos);
    ed->in_len -= ed->in_pos;
    ed->in_pos = 0;
  }
  if (ed->state == READING && ed->in_pos < ed->in_len && !key_ready(ed)
      && ed->in_buf[ed->in_pos] == 0x1b) {
    uv_timer_start(ed->esc_timer, esc_timer_cb, ESC_WAIT_MS, 0);
  }
}

static void esc_timer_cb(uv_timer_t *t)
{
  edit_t *ed = t->data;
  ed->flush_esc = 1;
  pump(ed);
}

static void start_reading(edit_t *ed);

static void poll_cb(uv_poll_t *p, int status, int events)
{
  edit_t *ed = p->data;
  if (ed->in_len == IN_MAX) {
    stop_reading(ed);  // full: the terminal keeps the rest for now
    return;
  }
  ssize_t n = read(ed->in_fd, ed->in_buf + ed->in_len, IN_MAX - ed->in_len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  if (n <= 0) {
    fputs("\n", ed->out);
    finish(ed, EDIT_EOF, NULL);  // the terminal hung up
    return;
  }
  uv_timer_stop(ed->esc_timer);
  ed->in_len += (size_t)n;
  el_resize(ed->el);  // the terminal may have changed size since
  pump(ed);
  start_reading(ed);
}

static void start_reading(edit_t *ed)
{
  if (ed->state == READING && !ed->polling && ed->in_len < IN_MAX) {
    uv_poll_start(ed->poll, UV_READABLE, poll_cb);
    ed->polling = 1;
  }
}

// --- drawing ------------------------------------------------------------------------

static int columns(edit_t *ed)
{
  struct winsize ws;
  if (ioctl(fileno(ed->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

// Clears the prompt and the line from the screen, leaving the cursor where
// the prompt began (where libedit's refresh draws them again).
static void hide(edit_t *ed)
{
  const LineInfoW *li = el_wline(ed->el);
  int width = (int)strlen(ed->prompt);
  for (const wchar_t *c = li->buffer; c < li->cursor; c++) {
    int w = wcwidth(*c);
    width += w > 0 ? w : 0;
  }
  int row = width / columns(ed);
  fputs("\r", ed->out);
  if (row > 0) {
    fprintf(ed->out, "\x1b[%dA", row);
  }
  fputs("\x1b[J", ed->out);
}

void edit_write(edit_t *ed, const char *s, size_t n)
{
  if (n == 0) {
    return;
  }
  int shown = ed->state != IDLE;
  if (shown) {
    el_resize(ed->el);
    hide(ed);
  }
  fwrite(s, 1, n, ed->out);
  if (shown) {
    if (s[n - 1] != '\n') {
      fputs("\n", ed->out);  // the prompt starts a line of its own
    }
    el_set(ed->el, EL_REFRESH);
  }
  fflush(ed->out);
}

// --- the owner's calls ----------------------------------------------------------------

void edit_prompt(edit_t *ed, const char *prompt)
{
  char *p = strdup(prompt);
  if (p != NULL) {
    free(ed->prompt);
    ed->prompt = p;
  }
  ed->state = READING;
  ed->event = EDIT_NONE;
  el_set(ed->el, EL_UNBUFFERED, 1);  // raw terminal, the prompt drawn
  fflush(ed->out);
  pump(ed);
  start_reading(ed);
}

edit_event_t edit_event(edit_t *ed, const char **text)
{
  edit_event_t e = ed->event;
  ed->event = EDIT_NONE;
  if (text != NULL) {
    *text = ed->text;
  }
  return e;
}

void edit_resume(edit_t *ed)
{
  if (ed->state != TAB_WAIT) {
    return;
  }
  ed->state = READING;
  ed->tab_ready = 1;
  pump(ed);
  start_reading(ed);
}

void edit_interrupt(edit_t *ed)
{
  if (ed->state == IDLE) {
    return;
  }
  fputs("^C\n", ed->out);
  finish(ed, EDIT_INTERRUPT, NULL);
}

void edit_redraw(edit_t *ed)
{
  if (ed->state == IDLE) {
    return;
  }
  // The shell that stopped and continued this process left the terminal
  // in its own mode: libedit's is set again, and the line drawn anew.
  el_set(ed->el, EL_PREP_TERM, 0);
  el_set(ed->el, EL_PREP_TERM, 1);
  fputs("\n", ed->out);
  el_set(ed->el, EL_REFRESH);
  fflush(ed->out);
}

int edit_reading(edit_t *ed)
{
  return ed->state != IDLE;
}

int edit_history_add(edit_t *ed, const char *line)
{
  HistEvent ev;
  history(ed->hist, &ev, H_ENTER, line);
  if (ed->history_file == NULL) {
    return 0;
  }
  // Written whole each time (the history is small), private to its
  // owner: lines typed at a lab prompt may hold tokens.
  int fd = open(ed->history_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) {
    int e = errno;
    if (fd >= 0) {
      close(fd);
    }
    return -e;
  }
  history(ed->hist, &ev, H_SAVE_FP, f);
  return fclose(f) == 0 ? 0 : -errno;
}

// --- opening and closing ------------------------------------------------------------

// libedit needs a locale that can encode what is typed: the user's, or
// C.UTF-8 when theirs is plain ASCII.
static void set_locale(edit_t *ed)
{
  const char *old = setlocale(LC_CTYPE, NULL);
  ed->saved_locale = old ? strdup(old) : NULL;
  if (setlocale(LC_CTYPE, "") == NULL
      || strcmp(nl_langinfo(CODESET), "UTF-8") != 0) {
    setlocale(LC_CTYPE, "C.UTF-8");
  }
}

static int make_streams(edit_t *ed, int in_fd, int out_fd)
{
  int in = dup(in_fd), out = dup(out_fd);
  ed->in = in >= 0 ? fdopen(in, "r") : NULL;
  ed->out = out >= 0 ? fdopen(out, "w") : NULL;
  if (ed->in == NULL || ed->out == NULL) {
    int e = errno;
    if (ed->in == NULL && in >= 0) close(in);
    if (ed->out == NULL && out >= 0) close(out);
    return -e;
  }
  fcntl(in, F_SETFD, FD_CLOEXEC);
  fcntl(out, F_SETFD, FD_CLOEXEC);
  return 0;
}

static void setup_history(edit_t *ed, const edit_opts_t *opts)
{
  HistEvent ev;
  ed->hist = history_init();
  history(ed->hist, &ev, H_SETSIZE, opts->history_size > 0
          ? opts->history_size : 1000);
  history(ed->hist, &ev, H_SETUNIQUE, 1);
  if (opts->history_file != NULL) {
    ed->history_file = strdup(opts->history_file);
    history(ed->hist, &ev, H_LOAD, opts->history_file);  // none yet: fine
  }
}

static void setup_editline(edit_t *ed)
{
  EditLine *el = ed->el;
  el_set(el, EL_CLIENTDATA, ed);
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_SIGNAL, 0);  // Ctrl-C and resizes are the loop's
  el_set(el, EL_GETCFN, read_char);
  el_set(el, EL_PROMPT, prompt_of);
  el_set(el, EL_HIST, history, ed->hist);
  el_source(el, NULL);  // the user's ~/.editrc, as other libedit programs
  // The wide calls keep these (static) strings as they are; the narrow
  // ones copy them and el_end never frees the copies.
  el_wset(el, EL_ADDFN, L"hilt-complete", L"complete a name or a bus path",
          complete_fn);
  el_wset(el, EL_BIND, L"^I", L"hilt-complete", NULL);
}

static void handle_free(uv_handle_t *h)
{
  free(h);
}

// Frees what edit_open made before its handles joined the loop.
static void edit_free(edit_t *ed)
{
  if (ed->el != NULL) {
    el_end(ed->el);
  }
  if (ed->hist != NULL) {
    history_end(ed->hist);
  }
  if (ed->in != NULL) {
    fclose(ed->in);
  }
  if (ed->out != NULL) {
    fclose(ed->out);
  }
  if (ed->saved_locale != NULL) {
    setlocale(LC_CTYPE, ed->saved_locale);
  }
  free(ed->saved_locale);
  free(ed->history_file);
  free(ed->poll);
  free(ed->esc_timer);
  free(ed->prompt);
  free(ed->text);
  free(ed);
}

int edit_open(edit_t **out, uv_loop_t *loop, const edit_opts_t *opts)
{
  if (!isatty(opts->in_fd) || !isatty(opts->out_fd)) {
    return -ENOTTY;
  }
  edit_t *ed = calloc(1, sizeof *ed);
  if (ed == NULL) {
    return -ENOMEM;
  }
  ed->opts = *opts;
  ed->in_fd = opts->in_fd;
  ed->prompt = strdup("> ");
  int rc = make_streams(ed, opts->in_fd, opts->out_fd);
  if (rc < 0) {
    edit_free(ed);
    return rc;
  }
  ed->poll = malloc(sizeof *ed->poll);
  ed->esc_timer = malloc(sizeof *ed->esc_timer);
  if (ed->poll == NULL || ed->esc_timer == NULL) {
    edit_free(ed);
    return -ENOMEM;
  }
  set_locale(ed);
  setup_history(ed, opts);
  ed->el = el_init_fd("hilt", ed->in, ed->out, ed->out, fileno(ed->in),
                      fileno(ed->out), fileno(ed->out));
  if (ed->el == NULL || uv_poll_init(loop, ed->poll, opts->in_fd) != 0) {
    edit_free(ed);
    return -EIO;
  }
  setup_editline(ed);
  uv_timer_init(loop, ed->esc_timer);
  ed->poll->data = ed->esc_timer->data = ed;
  *out = ed;
  return 0;
}

void edit_close(edit_t *ed)
{
  if (ed->state != IDLE) {
    fputs("\n", ed->out);
    ed->state = IDLE;
    el_set(ed->el, EL_UNBUFFERED, 0);
  }
  stop_reading(ed);
  uv_close((uv_handle_t *)ed->poll, handle_free);
  uv_close((uv_handle_t *)ed->esc_timer, handle_free);
  ed->poll = NULL;
  ed->esc_timer = NULL;  // freed by their close callbacks
  edit_free(ed);
}
