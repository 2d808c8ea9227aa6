// systemd's "slice:prefix:name" cgroupsPath and the directory it names.
#include <gtest/gtest.h>

#include "cgroups/systemd_path.hpp"

namespace kapsel::cgroups {
namespace {

std::string path_of(const std::string& p, const std::string& id = "c1") {
    auto r = systemd_path(p, id);
    return r ? *r : "error: " + r.error().message;
}

TEST(SystemdPath, PrefixAndNameMakeAScopeInTheSlice) {
    EXPECT_EQ("/machine.slice/libpod-abc.scope", path_of("machine.slice:libpod:abc"));
}

TEST(SystemdPath, NestedSlicesExpandLikeSystemd) {
    EXPECT_EQ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-x.scope",
              path_of("kubepods-besteffort-pod1.slice:cri-containerd:x"));
}

TEST(SystemdPath, DefaultsToTheSystemSlice) {
    EXPECT_EQ("/system.slice/kapsel-c1.scope", path_of(""));
    EXPECT_EQ("/system.slice/p-n.scope", path_of(":p:n"));
}

TEST(SystemdPath, RootSliceAndANameThatIsASlice) {
    EXPECT_EQ("/p-n.scope", path_of("-.slice:p:n"));
    EXPECT_EQ("/a.slice/a-b.slice", path_of("system.slice::a-b.slice"));
}

TEST(SystemdPath, MalformedPathsAreErrors) {
    EXPECT_NE(std::string::npos, path_of("/just/a/path").find("slice:prefix:name"));
    EXPECT_NE(std::string::npos, path_of("bad:p:n").find("invalid systemd slice"));
    EXPECT_NE(std::string::npos, path_of("a--b.slice:p:n").find("invalid systemd slice"));
}

}  // namespace
}  // namespace kapsel::cgroups
