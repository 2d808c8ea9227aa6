// What `kapsel run IMAGE` and `kapsel genode IMAGE` make of an image: its config,
// /etc/passwd and /etc/group (all from the image's author) become a config.json,
// which is parsed back, planned and deployed to Genode. Input: the three documents
// separated by NUL bytes.
#include "fuzz.hpp"
#include "genode/model.hpp"
#include "image/manifest.hpp"
#include "linux/seccomp.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"
#include "plan/container_spec.hpp"
#include "plan/default_seccomp.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto in = fuzz::parts(data, size, 3);
    auto cfg = image::parse_config(in[0]);
    if (!cfg) return 0;
    // As runtime::image_spec does it.
    plan::ImageDefaults defaults{cfg->user,        cfg->env,           cfg->entrypoint, cfg->cmd,
                                 cfg->working_dir, cfg->exposed_ports, cfg->volumes};
    auto user = plan::resolve_user(cfg->user, in[1], in[2]);
    if (!user) return 0;
    static const auto allow =
        plan::default_seccomp_allow(linux::known_syscall_names(), plan::default_capabilities());
    plan::RunRequest req{.rootfs = "fuzz.tar", .hostname = "fuzz"};
    auto j = plan::container_spec(defaults, req, *user, allow);
    if (!j) return 0;
    // The config.json text kapsel writes for the container and reads back.
    auto spec = oci::parse_spec(j->dump(1), "the config of the image");
    if (!spec) return 0;
    auto plan = plan::build(*spec, {.id = "fuzz", .bundle = "/bundle"});
    if (!plan) return 0;
    auto d = genode::deploy(*plan, *spec, {.name = "fuzz", .tar = "fuzz.tar", .sockets = true});
    if (!d) return 0;
    genode::Node node = genode::subinit_node(*d);
    fuzz::check_node(node);
    (void)genode::to_xml(node);
    (void)genode::to_hid(node);
    return 0;
}
