// A progress line per layer on stderr when it and stdout are terminals ("layer 2/4: 41.3 of
// 80.0 MB, 112 MB/s", redrawn in place at most ten times a second and left as the
// final figures; "..., stalled for 12 s" while less than a KiB a second arrives),
// nothing otherwise or with -q.
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
    // The source is waiting for data: redraws, so that a stall shows.
    void waiting();

private:
    void draw(bool final);
    Reader& inner_;
    std::string label_;
    bool enabled_;
    uint64_t bytes_ = 0, total_ = 0;
    int64_t start_ms_ = 0, last_ms_ = 0;
    uint64_t mark_bytes_ = 0;  // bytes_ when ...
    int64_t mark_ms_ = 0;      // ... the last KiB was complete
};

bool progress_wanted(bool quiet);

}  // namespace kapsel::image
