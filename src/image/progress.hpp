// A progress line per layer on stderr when it and stdout are terminals ("layer 2/4: 41.3 of
// 80.0 MB, 112 MB/s", redrawn in place at most ten times a second and left as the
// final figures), nothing otherwise or with -q.
#pragma once

#include <string>

#include "image/stream.hpp"

namespace kapsel::image {

class ProgressReader final : public Reader {
public:
    // `total`: the size to expect, when known (0: not known).
    ProgressReader(Reader& inner, std::string label, bool enabled, uint64_t total = 0);
    ~ProgressReader() override;
    Result<size_t> read(char* buf, size_t n) override;

private:
    void draw(bool final);
    Reader& inner_;
    std::string label_;
    bool enabled_;
    uint64_t bytes_ = 0, total_ = 0;
    int64_t start_ms_ = 0, last_ms_ = 0;
};

bool progress_wanted(bool quiet);

}  // namespace kapsel::image
