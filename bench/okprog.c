/* okprog: the smallest useful connection handler, for measuring servers.
   It writes "ok\n" to the connection and exits; with an argument it then
   holds the connection until the peer closes it (for RSS measurements with
   handlers running). Built with gcc -static so its start costs no dynamic
   loading. */
#include <unistd.h>

int main(int argc, char **argv)
{
  char buf[512];

  (void)argv;
  if (write(1, "ok\n", 3) != 3) return 111;
  if (argc > 1)
    while (read(0, buf, sizeof buf) > 0)
      ;
  return 0;
}
