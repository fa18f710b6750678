// Signal names for child processes (see proc.h): what a user writes to
// kill one and what is reported when one dies of a signal.
#include "proc.h"

#include <signal.h>
#include <stdio.h>
#include <strings.h>

static const struct {
  const char *name;  // without "SIG"
  int sig;
} signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},
    {"ILL", SIGILL},     {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"BUS", SIGBUS},     {"FPE", SIGFPE},       {"KILL", SIGKILL},
    {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},   {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},
    {"URG", SIGURG},     {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},
    {"IO", SIGIO},       {"SYS", SIGSYS},
};

#define NSIGNALS (sizeof signals / sizeof signals[0])

const char *proc_signal_name(int sig, char *buf, size_t n)
{
  for (size_t i = 0; i < NSIGNALS; i++) {
    if (signals[i].sig == sig) {
      snprintf(buf, n, "SIG%s", signals[i].name);
      return buf;
    }
  }
  snprintf(buf, n, "SIG%d", sig);
  return buf;
}

int proc_signal_parse(const char *name)
{
  if (strncasecmp(name, "sig", 3) == 0) {
    name += 3;
  }
  for (size_t i = 0; i < NSIGNALS; i++) {
    if (strcasecmp(name, signals[i].name) == 0) {
      return signals[i].sig;
    }
  }
  return 0;
}
