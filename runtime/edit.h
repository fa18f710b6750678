// A line editor on the event loop, for `hilt repl`: libedit (BSD-licensed)
// edits the line, with history kept in a file and a completion hook; this
// file feeds it the terminal's bytes as the loop reads them, so other work
// goes on while the user types, and writes other output above the line
// being typed without garbling it.
//
//   edit_open(&ed, loop, &opts);     // opts.in_fd must be a terminal
//   edit_prompt(ed, "> ");           // show a prompt and read a line
//   ...opts.notify(data) runs: edit_event(ed, &text) says what happened
//   edit_close(ed);
//
// One line at a time: after EDIT_LINE, EDIT_EOF or EDIT_INTERRUPT the
// terminal is back in its own mode (Ctrl-C signals, typed text echoes)
// until the next edit_prompt.
#ifndef HILT_EDIT_H
#define HILT_EDIT_H

#include <stddef.h>
#include <uv.h>

typedef struct edit edit_t;

typedef enum {
  EDIT_NONE = 0,    // nothing yet
  EDIT_LINE,        // a line was entered; text is the line, without "\n"
  EDIT_EOF,         // Ctrl-D on an empty line, or the terminal went away
  EDIT_TAB,         // Tab was pressed; text is the line before the cursor.
                    // The owner may prepare, then calls edit_resume()
  EDIT_INTERRUPT,   // edit_interrupt() dropped the line being typed
} edit_event_t;

typedef struct {
  int in_fd, out_fd;         // the terminal (stdin and stdout)
  const char *history_file;  // NULL keeps no history
  int history_size;          // entries kept (0: 1000)
  // On Tab (after edit_resume): sets *insert to the text to insert at the
  // cursor and *listing to text shown below the line (a terminal `width`
  // columns wide), each malloc'd or NULL. Called from inside edit_resume.
  void (*complete)(void *data, const char *before, int width, char **insert,
                   char **listing);
  // Something happened: edit_event() says what. Called from loop
  // callbacks and from edit_* calls alike.
  void (*notify)(void *data);
  void *data;
} edit_opts_t;

/// Opens the editor on a terminal. Returns 0, -ENOTTY when opts->in_fd or
/// opts->out_fd is not a terminal, or another negative errno.
int edit_open(edit_t **out, uv_loop_t *loop, const edit_opts_t *opts);

/// Shows `prompt` (copied) and reads a line.
void edit_prompt(edit_t *ed, const char *prompt);

/// The pending event, consumed; *text (for EDIT_LINE and EDIT_TAB) stays
/// valid until the next edit_* call.
edit_event_t edit_event(edit_t *ed, const char **text);

/// After EDIT_TAB: completes (opts.complete) and goes on reading.
void edit_resume(edit_t *ed);

/// Ctrl-C while a line is typed: shows "^C", drops the line and reports
/// EDIT_INTERRUPT. Does nothing when no line is being read.
void edit_interrupt(edit_t *ed);

/// After the process was stopped and continued (Ctrl-Z, fg): puts the
/// terminal back in the editor's mode and draws the line again.
void edit_redraw(edit_t *ed);

/// True while a prompt is shown and a line read.
int edit_reading(edit_t *ed);

/// Writes output for the terminal: above the prompt and the line being
/// typed (which are drawn again below it), or as is when no line is read.
void edit_write(edit_t *ed, const char *s, size_t n);

/// Adds a line to the history and saves the history file (mode 0600).
/// Returns 0 or a negative errno from saving.
int edit_history_add(edit_t *ed, const char *line);

/// Restores the terminal and frees the editor (its poll handle closes on
/// the loop).
void edit_close(edit_t *ed);

#endif
