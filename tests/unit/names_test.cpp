// plan/names.cpp: names as configs and command lines spell them -> numbers.
#include "plan/names.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

namespace kapsel::plan {
namespace {

using ::testing::Contains;

TEST(SignalNumber, NamesWithAndWithoutSigPrefixInAnyCase) {
    EXPECT_EQ(signal_number("KILL"), SIGKILL);
    EXPECT_EQ(signal_number("SIGKILL"), SIGKILL);
    EXPECT_EQ(signal_number("sigterm"), SIGTERM);
    EXPECT_EQ(signal_number("term"), SIGTERM);
    EXPECT_EQ(signal_number("SigHup"), SIGHUP);
    EXPECT_EQ(signal_number("WINCH"), SIGWINCH);
    EXPECT_EQ(signal_number("CLD"), SIGCHLD);
}

TEST(SignalNumber, Numbers) {
    EXPECT_EQ(signal_number("9"), 9);
    EXPECT_EQ(signal_number("15"), 15);
    EXPECT_EQ(signal_number(std::to_string(NSIG - 1)), NSIG - 1);
    EXPECT_EQ(signal_number("0"), std::nullopt) << "0 is not a signal to send";
    EXPECT_EQ(signal_number(std::to_string(NSIG)), std::nullopt);
    EXPECT_EQ(signal_number("-9"), std::nullopt);
}

TEST(SignalNumber, RealtimeSignals) {
    EXPECT_EQ(signal_number("RTMIN"), SIGRTMIN);
    EXPECT_EQ(signal_number("RTMIN+1"), SIGRTMIN + 1);
    EXPECT_EQ(signal_number("SIGRTMIN+3"), SIGRTMIN + 3);
    EXPECT_EQ(signal_number("sigrtmax"), SIGRTMAX);
    EXPECT_EQ(signal_number("RTMAX-2"), SIGRTMAX - 2);
    EXPECT_EQ(signal_number("RTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN)), SIGRTMAX);
    EXPECT_EQ(signal_number("RTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN + 1)), std::nullopt);
    EXPECT_EQ(signal_number("RTMIN+"), std::nullopt);
    EXPECT_EQ(signal_number("RTMIN-1"), std::nullopt);
    EXPECT_EQ(signal_number("RTMAX+1"), std::nullopt);
}

TEST(SignalNumber, RealtimeOffsetMustNotBeNegative) {
    EXPECT_EQ(signal_number("RTMIN+-1"), std::nullopt);
    EXPECT_EQ(signal_number("RTMAX--1"), std::nullopt);
}

TEST(SignalNumber, Invalid) {
    EXPECT_EQ(signal_number(""), std::nullopt);
    EXPECT_EQ(signal_number("SIG"), std::nullopt);
    EXPECT_EQ(signal_number("KILLL"), std::nullopt);
    EXPECT_EQ(signal_number("9x"), std::nullopt);
    EXPECT_EQ(signal_number("SIGRTMINX"), std::nullopt);
}

TEST(CapabilityNumber, FullNamesShortNamesAnyCase) {
    EXPECT_EQ(capability_number("CAP_CHOWN"), 0);
    EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
    EXPECT_EQ(capability_number("SYS_ADMIN"), 21);
    EXPECT_EQ(capability_number("sys_admin"), 21);
    EXPECT_EQ(capability_number("cap_net_raw"), 13);
    EXPECT_EQ(capability_number("CAP_CHECKPOINT_RESTORE"), 40);
}

TEST(CapabilityNumber, Unknown) {
    EXPECT_EQ(capability_number("CAP_FLY"), std::nullopt);
    EXPECT_EQ(capability_number(""), std::nullopt);
    EXPECT_EQ(capability_number("CAP_"), std::nullopt);
    EXPECT_EQ(capability_number("41"), std::nullopt);
}

TEST(CapabilityName, RoundTripsAndFallsBackToTheNumber) {
    for (int i = 0; i <= last_known_capability(); ++i)
        EXPECT_EQ(capability_number(capability_name(i)), i);
    EXPECT_EQ(capability_name(21), "CAP_SYS_ADMIN");
    EXPECT_EQ(capability_name(63), "CAP_63");
    EXPECT_EQ(last_known_capability(), 40);
    EXPECT_EQ(all_capability_names().size(), 41u);
    EXPECT_THAT(all_capability_names(), Contains("CAP_BPF"));
}

TEST(RlimitNumber, ExactNamesOnly) {
    EXPECT_EQ(rlimit_number("RLIMIT_NOFILE"), RLIMIT_NOFILE);
    EXPECT_EQ(rlimit_number("RLIMIT_RTTIME"), RLIMIT_RTTIME);
    EXPECT_EQ(rlimit_number("RLIMIT_AS"), RLIMIT_AS);
    EXPECT_EQ(rlimit_number("rlimit_nofile"), std::nullopt);
    EXPECT_EQ(rlimit_number("NOFILE"), std::nullopt);
}

}  // namespace
}  // namespace kapsel::plan
