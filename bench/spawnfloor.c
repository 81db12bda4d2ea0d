/* spawnfloor: the least a spawning TCP server can do, as a yardstick for
   tcpserver's speed. It accepts on 127.0.0.1:PORT (0 for any; the port is
   printed on stdout; backlog as tcpserver -b), runs the program for each connection with posix_spawn
   (vfork-style in glibc) and the connection as descriptors 0 and 1, and reaps
   with one SIGCHLD-driven waitpid(-1, WNOHANG) loop, at most LIMIT at once.
   No environment variables, no logging, no options.

   usage: spawnfloor [ -b backlog ] port limit program [ arg ... ] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t children;

static void sigchld(int sig)
{
  int saved = errno;
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0)
    if (children) --children;
  errno = saved;
}

int main(int argc, char **argv)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t len = sizeof sa;
  sigset_t chld, none;
  long limit;
  int s, one = 1, backlog = 20;

  if (argc > 2 && argv[1][0] == '-' && argv[1][1] == 'b') { backlog = atoi(argv[2]); argv += 2; argc -= 2; }
  if (argc < 4) { fprintf(stderr, "usage: spawnfloor [ -b backlog ] port limit program [ arg ... ]\n"); return 100; }
  limit = atol(argv[2]);
  sa.sin_port = htons(atoi(argv[1]));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) || listen(s, backlog)) { perror("spawnfloor: bind/listen"); return 111; }
  getsockname(s, (struct sockaddr *)&sa, &len);
  printf("%d\n", ntohs(sa.sin_port));
  fflush(stdout);

  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, sigchld);
  sigemptyset(&chld); sigaddset(&chld, SIGCHLD);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &chld, 0);
  for (;;) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid;
    int t;

    while (children >= limit) sigsuspend(&none);
    sigprocmask(SIG_UNBLOCK, &chld, 0);
    t = accept4(s, 0, 0, SOCK_CLOEXEC);
    sigprocmask(SIG_BLOCK, &chld, 0);
    if (t == -1) continue;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, t, 0);
    posix_spawn_file_actions_adddup2(&fa, t, 1);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &chld);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (posix_spawn(&pid, argv[3], &fa, &attr, argv + 3, environ) == 0) ++children;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(t);
  }
}
