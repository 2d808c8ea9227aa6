// process.terminal: the pty master goes to the caller over --console-socket, the
// slave is the process's stdio and /dev/console.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "harness.hpp"

namespace kapsel::test {
namespace {


std::string read_until_eof(int fd, int timeout_ms) {
    std::string out;
    char buf[1024];
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, timeout_ms) > 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

class Terminal : public KapselTest {
  protected:
    // Creates c1 from `b` (with a terminal) over a console socket, starts it, and
    // returns what the pty master read until the process ended.
    void output_through_console(Bundle& b, std::string& out) {
        FdListener sock;
        b.config["process"]["terminal"] = true;
        b.write();
        int master = -1;
        std::thread receiver([&] { master = sock.receive(); });
        Output c = kapsel({"create", "--bundle", b.dir(), "--console-socket", sock.path(), "c1"});
        receiver.join();
        ASSERT_EQ(0, c.code) << c.err;
        ASSERT_GE(master, 0) << "no pty master arrived";
        ASSERT_EQ(0, kapsel({"start", "c1"}).code);
        out = read_until_eof(master, 5000);
        close(master);
    }
};

TEST_F(Terminal, TerminalNeedsAConsoleSocket) {
    Bundle b("tty");
    b.config["process"]["terminal"] = true;
    b.write();
    Output o = kapsel({"create", "--bundle", b.dir(), "c1"});
    EXPECT_EQ(1, o.code);
    EXPECT_NE(std::string::npos, o.err.find("--console-socket")) << o.err;
    expect_nothing_left("c1", b);
}

TEST_F(Terminal, ConsoleSocketReceivesThePtyMaster) {
    Bundle b("tty; stat -c '%t:%T' /dev/console; echo done");
    std::string out;
    ASSERT_NO_FATAL_FAILURE(output_through_console(b, out));
    EXPECT_NE(std::string::npos, out.find("/dev/pts/0")) << out;
    EXPECT_NE(std::string::npos, out.find("88:0"))
        << "/dev/console is the pty slave (major 136 = 0x88): " << out;
    EXPECT_NE(std::string::npos, out.find("done\r\n")) << "the pty translates newlines: " << out;
}

TEST_F(Terminal, ThePtyBelongsToTheUserAndKeepsTheTtyGroup) {
    // devpts is mounted with gid=5: the terminal's group is "tty", whatever the
    // process's own group, as runc leaves it (mesg, write and script rely on it).
    Bundle b("stat -c '%u:%g:%a' $(tty); echo done");
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    std::string out;
    ASSERT_NO_FATAL_FAILURE(output_through_console(b, out));
    EXPECT_NE(std::string::npos, out.find("1000:5:620")) << out;
}

TEST_F(Terminal, RunAttachedWithATerminalProxiesIt) {
    if (access("/usr/bin/script", X_OK) != 0)
        GTEST_SKIP() << "skipped: script(1) from util-linux is missing";
    Bundle b("test -t 0 && echo stdin-is-a-tty; read line; echo got:$line");
    b.config["process"]["terminal"] = true;
    b.write();
    std::string cmd =
        kapsel_binary() + " --root " + root() + "/state run --bundle " + b.dir() + " c1";
    Output o = run_program({"/usr/bin/script", "-qec", cmd, "/dev/null"}, "hello\n");
    EXPECT_EQ(0, o.code) << o.err;
    EXPECT_NE(std::string::npos, o.out.find("stdin-is-a-tty")) << o.out;
    EXPECT_NE(std::string::npos, o.out.find("got:hello")) << o.out;
}

}  // namespace
}  // namespace kapsel::test
