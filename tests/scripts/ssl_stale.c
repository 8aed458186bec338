/* Leaves a TLS call without its return: SSL_read on a TLS connection to PostgreSQL blocks, a
 * SIGALRM handler siglongjmps out of it (the uretprobe never fires), and then, on the same
 * thread, a plain connection runs `SELECT 1 AS after_stale_tls`. The agent must capture the
 * plain connection's statement instead of taking it for the TLS call's ciphertext.
 * Usage: ssl_stale PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static sigjmp_buf jump;

static void on_alarm(int sig) {
  (void)sig;
  siglongjmp(jump, 1);
}

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* Reads messages until ReadyForQuery; exits on ErrorResponse. */
static void until_ready(int fd) {
  unsigned char hdr[5];
  static unsigned char body[1 << 16];
  for (;;) {
    size_t got = 0;
    while (got < 5) {
      ssize_t n = read(fd, hdr + got, 5 - got);
      if (n <= 0) { fprintf(stderr, "server closed\n"); exit(1); }
      got += n;
    }
    uint32_t len = ((uint32_t)hdr[1] << 24 | hdr[2] << 16 | hdr[3] << 8 | hdr[4]) - 4;
    if (len > sizeof body) { fprintf(stderr, "message too long\n"); exit(1); }
    got = 0;
    while (got < len) {
      ssize_t n = read(fd, body + got, len - got);
      if (n <= 0) { fprintf(stderr, "server closed\n"); exit(1); }
      got += n;
    }
    if (hdr[0] == 'E') { fprintf(stderr, "server error\n"); exit(1); }
    if (hdr[0] == 'Z') return;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: ssl_stale PORT\n"); return 2; }
  int port = atoi(argv[1]);
  alarm(0);

  /* 1. A TLS connection, and an SSL_read that never returns normally. */
  int tls = dial(port);
  unsigned char req[8];
  put32(req, 8);
  put32(req + 4, 80877103);
  if (write(tls, req, 8) != 8) { perror("write"); return 1; }
  char answer;
  if (read(tls, &answer, 1) != 1 || answer != 'S') { fprintf(stderr, "no TLS\n"); return 1; }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, tls);
  if (SSL_connect(ssl) != 1) { fprintf(stderr, "SSL_connect failed\n"); return 1; }
  signal(SIGALRM, on_alarm);
  if (sigsetjmp(jump, 1) == 0) {
    char buf[64];
    alarm(1);
    SSL_read(ssl, buf, sizeof buf); /* the server waits for our startup: this blocks */
    fprintf(stderr, "SSL_read returned\n");
    return 1;
  }
  /* Out of SSL_read without its return. Past the agent's staleness limit: */
  sleep(2);

  /* 2. A plain connection on the same thread. */
  int fd = dial(port);
  static const char startup_params[] = "user\0postgres\0database\0postgres\0";
  unsigned char startup[128];
  uint32_t slen = 8 + sizeof startup_params; /* the params and a final NUL */
  put32(startup, slen);
  put32(startup + 4, 196608);
  memcpy(startup + 8, startup_params, sizeof startup_params);
  if (write(fd, startup, slen) != (ssize_t)slen) { perror("write"); return 1; }
  until_ready(fd);
  static const char q[] = "SELECT 1 AS after_stale_tls";
  unsigned char msg[64];
  msg[0] = 'Q';
  put32(msg + 1, 4 + sizeof q);
  memcpy(msg + 5, q, sizeof q);
  if (write(fd, msg, 5 + sizeof q) != (ssize_t)(5 + sizeof q)) { perror("write"); return 1; }
  until_ready(fd);
  unsigned char x[5] = {'X', 0, 0, 0, 4};
  if (write(fd, x, 5) != 5) { perror("write"); return 1; }
  close(fd);
  return 0;
}
