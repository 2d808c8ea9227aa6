// A checkpoint directory's records, which `restore --image-path` (and an imported
// checkpoint archive) read from wherever the user points: descriptors.json and
// external-stdio.json; and the CRIU log that failure reasons are read from. Input:
// the three texts separated by NUL bytes.
#include "fuzz.hpp"
#include "plan/checkpoint.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto in = fuzz::parts(data, size, 3);
    auto stdio = plan::parse_stdio_json(in[0]);
    if (stdio) {
        (void)plan::stdio_json(*stdio);
        if (plan::parse_external_stdio_json(in[1], *stdio)) (void)plan::external_stdio_json(*stdio);
    }
    (void)plan::criu_failure_reason(in[2]);
    return 0;
}
