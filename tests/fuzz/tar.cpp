// A layer as it arrives: plain tar, gzip or zstd (told apart by magic), read entry
// by entry with every body drained, as unpack reads it. Headers, pax records, GNU
// long names, sizes and the decompressors are the attacker's to choose.
#include "fuzz.hpp"
#include "image/stream.hpp"
#include "image/tar.hpp"

using namespace kapsel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    image::StringReader raw(fuzz::text(data, size));
    image::Decompressor in(raw);
    image::TarReader tar(in);
    image::TarEntry e;
    // Bounded: a fuzzed archive of n bytes holds at most n/512 headers, but a
    // decompressor can make more of them.
    for (int i = 0; i < 100000; ++i) {
        auto more = tar.next(e);
        if (!more || !*more) break;
        if (i % 2 == 0 && !tar.body().drain()) break;  // every other body is left to next()
    }
    return 0;
}
