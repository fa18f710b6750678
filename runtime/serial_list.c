// The serial ports of this machine (serial.h), as libserialport lists them
// from sysfs, and finding one by what is known of it: USB vendor and
// product ids, serial number, description.
#define _GNU_SOURCE  // strverscmp
#include <libserialport.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serial_int.h"

const char *serial_transport_name(serial_transport_t t)
{
  return t == SERIAL_TRANSPORT_USB         ? "usb"
         : t == SERIAL_TRANSPORT_BLUETOOTH ? "bluetooth"
                                           : "native";
}

/* ---- Listing ----------------------------------------------------------- */

// A copy of s, or NULL for NULL or "". Sets *failed when out of memory.
static char *copy(const char *s, int *failed)
{
  if (s == NULL || *s == '\0') {
    return NULL;
  }
  char *c = strdup(s);
  *failed |= c == NULL;
  return c;
}

static int info_fill(serial_info_t *i, const struct sp_port *sp)
{
  int failed = 0;
  enum sp_transport t = sp_get_port_transport(sp);
  i->path = copy(sp_get_port_name(sp), &failed);
  i->description = copy(sp_get_port_description(sp), &failed);
  i->transport = t == SP_TRANSPORT_USB         ? SERIAL_TRANSPORT_USB
                 : t == SP_TRANSPORT_BLUETOOTH ? SERIAL_TRANSPORT_BLUETOOTH
                                               : SERIAL_TRANSPORT_NATIVE;
  i->vid = i->pid = -1;
  if (t == SP_TRANSPORT_USB) {
    if (sp_get_port_usb_vid_pid(sp, &i->vid, &i->pid) != SP_OK) {
      i->vid = i->pid = -1;
    }
    i->serial = copy(sp_get_port_usb_serial(sp), &failed);
    i->manufacturer = copy(sp_get_port_usb_manufacturer(sp), &failed);
    i->product = copy(sp_get_port_usb_product(sp), &failed);
  }
  return failed || i->path == NULL ? UV_ENOMEM : 0;
}

// Natural order: /dev/ttyUSB2 before /dev/ttyUSB10.
static int by_path(const void *a, const void *b)
{
  return strverscmp(((const serial_info_t *)a)->path,
                    ((const serial_info_t *)b)->path);
}

int serial_list(serial_info_t **out, size_t *n)
{
  struct sp_port **ports;
  *out = NULL;
  *n = 0;
  enum sp_return rc = sp_list_ports(&ports);
  if (rc != SP_OK) {
    return rc == SP_ERR_MEM ? UV_ENOMEM : UV_EIO;
  }
  size_t count = 0;
  while (ports[count] != NULL) {
    count++;
  }
  serial_info_t *list = calloc(count > 0 ? count : 1, sizeof *list);
  int err = list == NULL ? UV_ENOMEM : 0;
  for (size_t i = 0; err == 0 && i < count; i++) {
    err = info_fill(&list[i], ports[i]);
  }
  sp_free_port_list(ports);
  if (err != 0) {
    serial_list_free(list, count);
    return err;
  }
  qsort(list, count, sizeof *list, by_path);
  *out = list;
  *n = count;
  return 0;
}

void serial_list_free(serial_info_t *list, size_t n)
{
  for (size_t i = 0; list != NULL && i < n; i++) {
    free(list[i].path);
    free(list[i].description);
    free(list[i].serial);
    free(list[i].manufacturer);
    free(list[i].product);
  }
  free(list);
}

/* ---- Matching ---------------------------------------------------------- */

// Text built into a fixed buffer, cut short when it is full.
typedef struct {
  char *p;
  size_t cap, len;
} text_t;

static void put(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(text_t *t, const char *fmt, ...)
{
  if (t->p == NULL || t->len + 1 >= t->cap) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  if (k > 0) {
    t->len += (size_t)k < t->cap - t->len ? (size_t)k : t->cap - t->len - 1;
  }
}

static void put_match(text_t *t, const serial_match_t *m)
{
  const char *sep = "";
  if (m->vid >= 0) {
    put(t, "vid=0x%04x", (unsigned)m->vid);
    sep = " ";
  }
  if (m->pid >= 0) {
    put(t, "%spid=0x%04x", sep, (unsigned)m->pid);
    sep = " ";
  }
  if (m->serial != NULL) {
    put(t, "%sserial=\"%s\"", sep, m->serial);
    sep = " ";
  }
  if (m->description != NULL) {
    put(t, "%sdescription=\"%s\"", sep, m->description);
  }
}

// "/dev/ttyUSB0 (FT232R USB UART, usb 0403:6001, serial A12)"
static void put_port(text_t *t, const serial_info_t *i)
{
  put(t, "%s (%s", i->path, i->description ? i->description : "?");
  if (i->vid >= 0) {
    put(t, ", %s %04x:%04x", serial_transport_name(i->transport),
        (unsigned)i->vid, (unsigned)i->pid);
  }
  if (i->serial != NULL) {
    put(t, ", serial %s", i->serial);
  }
  put(t, ")");
}

static int matches(const serial_info_t *i, const serial_match_t *m)
{
  return (m->vid < 0 || i->vid == m->vid) &&
         (m->pid < 0 || i->pid == m->pid) &&
         (m->serial == NULL ||
          (i->serial != NULL && strcmp(i->serial, m->serial) == 0)) &&
         (m->description == NULL ||
          (i->description != NULL &&
           strstr(i->description, m->description) != NULL));
}

// Lists the ports of list[0..n) that m matches (every port when m is
// NULL), separated by commas.
static void put_ports(text_t *t, const serial_info_t *list, size_t n,
                      const serial_match_t *m)
{
  const char *sep = "";
  for (size_t i = 0; i < n; i++) {
    if (m == NULL || matches(&list[i], m)) {
      put(t, "%s", sep);
      put_port(t, &list[i]);
      sep = ", ";
    }
  }
}

int serial_list_match(const serial_info_t *list, size_t n,
                      const serial_match_t *m, size_t *index, char *err,
                      size_t errlen)
{
  size_t found = 0;
  for (size_t i = n; i-- > 0;) {
    if (matches(&list[i], m)) {
      *index = i;
      found++;
    }
  }
  if (found == 1) {
    return 0;
  }
  text_t t = {err, errlen, 0};
  if (err != NULL && errlen > 0) {
    err[0] = '\0';
  }
  if (found == 0) {
    put(&t, "no serial port matches ");
    put_match(&t, m);
    put(&t, n == 0 ? "; there are no serial ports here" : "; ports here: ");
    put_ports(&t, list, n, NULL);
    return UV_ENOENT;
  }
  put(&t, "%zu serial ports match ", found);
  put_match(&t, m);
  put(&t, ": ");
  put_ports(&t, list, n, m);
  put(&t, "; add serial= or description= to choose one");
  return UV_EINVAL;
}
