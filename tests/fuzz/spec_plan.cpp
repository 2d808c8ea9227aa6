// config.json -> parse_spec -> plan::build -> the Genode deployment in XML and HID.
// A bundle's config may come from anyone who can hand kapsel a bundle (a CI job, a
// podman caller), so every path through parsing and planning ends in a value or an
// error, never a crash, and the Genode writers carry only what they can quote.
#include "fuzz.hpp"
#include "genode/model.hpp"
#include "oci/spec.hpp"
#include "plan/build.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto spec = oci::parse_spec(fuzz::text(data, size));
    if (!spec) return 0;
    auto plan = plan::build(*spec, {.id = "fuzz", .bundle = "/bundle"});
    if (!plan) return 0;
    auto d = genode::deploy(*plan, *spec, {.name = "fuzz", .tar = "fuzz.tar", .sockets = true});
    if (!d) return 0;
    genode::add_scratch_dirs(d->start, {"tmp", "var/tmp"});
    genode::Node node = genode::subinit_node(*d);
    fuzz::check_node(node);
    (void)genode::to_xml(node);
    (void)genode::to_hid(node);
    return 0;
}
