// A progress line per layer on a terminal ("layer 2: 41.3 MB, 112 MB/s"), nothing
// when stderr is not a terminal or with -q.
#pragma once

#include <string>

#include "image/stream.hpp"

namespace kapsel::image {

class ProgressReader final : public Reader {
public:
    ProgressReader(Reader& inner, std::string label, bool enabled);
    ~ProgressReader() override;
    Result<size_t> read(char* buf, size_t n) override;

private:
    void draw(bool final);
    Reader& inner_;
    std::string label_;
    bool enabled_;
    uint64_t bytes_ = 0;
    int64_t start_ms_ = 0, last_ms_ = 0;
};

bool progress_wanted(bool quiet);

}  // namespace kapsel::image
