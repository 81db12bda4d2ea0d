/* startup: how long a program takes to start, run and exit, as a parent
   sees it: N sequential vfork+exec+wait of the command, timed together.
   Prints microseconds per run. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
int main(int argc, char **argv)
{
  struct timespec a, b;
  int n, i, status;
  pid_t pid;
  if (argc < 3) { fputs("usage: startup n prog [ arg ... ]\n", stderr); return 100; }
  n = atoi(argv[1]);
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (i = 0; i < n; i++) {
    if (posix_spawn(&pid, argv[2], 0, 0, argv + 2, environ) != 0) { perror("spawn"); return 111; }
    if (waitpid(pid, &status, 0) != pid || status != 0) { fprintf(stderr, "startup: %s failed\n", argv[2]); return 111; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
  return 0;
}
