// Streams.
#include "image/stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "util/fs.hpp"

namespace kapsel::image {

Status Reader::read_full(char* buf, size_t n, const std::string& what) {
    while (n > 0) {
        size_t got = KAPSEL_TRY(read(buf, n));
        if (got == 0) return make_error("unexpected end of " + what);
        buf += got;
        n -= got;
    }
    return {};
}

Status Reader::drain() {
    char buf[65536];
    while (KAPSEL_TRY(read(buf, sizeof buf)) > 0) {
    }
    return {};
}

Result<std::string> Reader::read_all(size_t limit) {
    std::string out;
    char buf[65536];
    while (true) {
        size_t got = KAPSEL_TRY(read(buf, sizeof buf));
        if (got == 0) return out;
        out.append(buf, got);
        if (out.size() > limit) return make_error("more than " + std::to_string(limit) + " bytes where a small document was expected");
    }
}

Result<size_t> FdReader::read(char* buf, size_t n) {
    while (true) {
        ssize_t got = ::read(fd_, buf, n);
        if (got >= 0) return static_cast<size_t>(got);
        if (errno != EINTR) return sys_error("read " + name_);
    }
}

Result<size_t> StringReader::read(char* buf, size_t n) {
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
}

Result<size_t> PrefixReader::read(char* buf, size_t n) {
    if (pos_ < prefix_.size()) {
        size_t k = std::min(n, prefix_.size() - pos_);
        std::memcpy(buf, prefix_.data() + pos_, k);
        pos_ += k;
        return k;
    }
    return inner_.read(buf, n);
}

Result<size_t> LimitedReader::read(char* buf, size_t n) {
    if (left_ == 0) return size_t{0};
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, left_));
    size_t got = KAPSEL_TRY(inner_.read(buf, want));
    if (got == 0) return make_error("unexpected end of archive (" + std::to_string(left_) + " bytes missing)");
    left_ -= got;
    return got;
}

Result<size_t> HashingReader::read(char* buf, size_t n) {
    size_t got = KAPSEL_TRY(inner_.read(buf, n));
    if (!wanted_ || wanted_()) hash_.update(buf, got);
    size_ += got;
    return got;
}

// The state both threads touch, under `mu`.
struct BackgroundHashingReader::Shared {
    static constexpr size_t kChunk = 1 << 20, kInFlight = 4;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::vector<char>> full;   // waiting for the worker
    std::vector<std::vector<char>> free;  // reusable, back from the worker
    bool closing = false;
    Status error;                         // the worker's first failure
    // The worker's own.
    int fd = -1;
    std::string name;
    off_t written = 0, flushed = 0;
    Sha256 hash;
    std::thread worker;

    void run() {
        std::unique_lock lock(mu);
        for (;;) {
            cv.wait(lock, [&] { return !full.empty() || closing; });
            if (full.empty()) return;
            std::vector<char> c = std::move(full.front());
            full.pop_front();
            lock.unlock();
            hash.update(c.data(), c.size());
            Status st = write_out(c);
            lock.lock();
            if (!st && error) error = std::move(st);
            c.clear();
            free.push_back(std::move(c));
            cv.notify_all();
        }
    }

    Status write_out(const std::vector<char>& c) {
        if (fd < 0) return {};
        KAPSEL_TRY(fs::write_all(fd, std::string_view(c.data(), c.size()), name));
        written += static_cast<off_t>(c.size());
        // The import ends with one syncfs; writing back as we go leaves it little to wait for.
        if (written - flushed >= (8 << 20)) {
            (void)::sync_file_range(fd, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
            flushed = written;
        }
        return {};
    }
};

BackgroundHashingReader::BackgroundHashingReader(Reader& inner, int copy_fd, std::string copy_name)
    : inner_(inner), shared_(std::make_unique<Shared>()) {
    shared_->fd = copy_fd;
    shared_->name = std::move(copy_name);
    chunk_.reserve(Shared::kChunk);
    shared_->worker = std::thread([s = shared_.get()] { s->run(); });
}

BackgroundHashingReader::~BackgroundHashingReader() {
    if (!shared_->worker.joinable()) return;  // finish() joined it
    {
        std::lock_guard lock(shared_->mu);
        shared_->closing = true;
    }
    shared_->cv.notify_all();
    shared_->worker.join();
}

Status BackgroundHashingReader::hand_over() {
    std::unique_lock lock(shared_->mu);
    shared_->cv.wait(lock, [&] { return shared_->full.size() < Shared::kInFlight; });
    if (!shared_->error) return shared_->error;
    shared_->full.push_back(std::move(chunk_));
    if (!shared_->free.empty()) {
        chunk_ = std::move(shared_->free.back());
        shared_->free.pop_back();
    } else {
        chunk_ = {};
        chunk_.reserve(Shared::kChunk);
    }
    lock.unlock();
    shared_->cv.notify_all();
    return {};
}

Result<size_t> BackgroundHashingReader::read(char* buf, size_t n) {
    size_t got = KAPSEL_TRY(inner_.read(buf, n));
    size_ += got;
    for (size_t off = 0; off < got;) {
        size_t take = std::min(got - off, Shared::kChunk - chunk_.size());
        chunk_.insert(chunk_.end(), buf + off, buf + off + take);
        off += take;
        if (chunk_.size() == Shared::kChunk) KAPSEL_TRY(hand_over());
    }
    return got;
}

Status BackgroundHashingReader::finish() {
    if (finished_) return {};
    if (!chunk_.empty()) KAPSEL_TRY(hand_over());
    {
        std::unique_lock lock(shared_->mu);
        shared_->closing = true;
    }
    shared_->cv.notify_all();
    shared_->worker.join();
    finished_ = true;
    // The worker is gone: what it left needs no lock.
    if (!shared_->error) return shared_->error;
    digest_ = shared_->hash.digest();
    return {};
}

Decompressor::Decompressor(Reader& inner) : inner_(inner), in_(1 << 17) {}

Decompressor::~Decompressor() {
    if (kind_ == Compression::gzip) inflateEnd(&z_);
    if (zstd_) ZSTD_freeDCtx(zstd_);
}

Status Decompressor::fill() {
    if (in_pos_ < in_len_ || inner_eof_) return {};
    size_t got = KAPSEL_TRY(inner_.read(in_.data(), in_.size()));
    in_pos_ = 0;
    in_len_ = got;
    if (got == 0) inner_eof_ = true;
    return {};
}

Result<size_t> Decompressor::read(char* buf, size_t n) {
    if (!detected_) {
        // Enough bytes for the magic numbers (a short stream is simply plain).
        while (in_len_ < 4 && !inner_eof_) {
            size_t got = KAPSEL_TRY(inner_.read(in_.data() + in_len_, in_.size() - in_len_));
            if (got == 0) inner_eof_ = true;
            in_len_ += got;
        }
        auto* m = reinterpret_cast<const unsigned char*>(in_.data());
        if (in_len_ >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
            kind_ = Compression::gzip;
            if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) return make_error("gzip: cannot initialise zlib");
        } else if (in_len_ >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
            kind_ = Compression::zstd;
            zstd_ = ZSTD_createDCtx();
        }
        detected_ = true;
    }
    if (n == 0) return size_t{0};
    switch (kind_) {
        case Compression::none: {
            if (in_pos_ < in_len_) {
                size_t k = std::min(n, in_len_ - in_pos_);
                std::memcpy(buf, in_.data() + in_pos_, k);
                in_pos_ += k;
                return k;
            }
            if (inner_eof_) return size_t{0};
            return inner_.read(buf, n);
        }
        case Compression::gzip: {
            while (true) {
                if (stream_end_) {
                    // Concatenated gzip members are one stream (gzip(1) allows it).
                    KAPSEL_TRY(fill());
                    if (in_pos_ >= in_len_) return size_t{0};
                    inflateReset(&z_);
                    stream_end_ = false;
                }
                KAPSEL_TRY(fill());
                z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
                z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
                z_.next_out = reinterpret_cast<Bytef*>(buf);
                z_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
                int rc = inflate(&z_, Z_NO_FLUSH);
                in_pos_ = in_len_ - z_.avail_in;
                size_t produced = n - z_.avail_out;
                if (rc == Z_STREAM_END) stream_end_ = true;
                else if (rc != Z_OK && rc != Z_BUF_ERROR)
                    return make_error(std::string("gzip: corrupt data (") + (z_.msg ? z_.msg : "inflate error") + ")");
                if (produced > 0) return produced;
                if (inner_eof_ && in_pos_ >= in_len_) {
                    if (stream_end_) return size_t{0};
                    return make_error("gzip: unexpected end of compressed data");
                }
            }
        }
        case Compression::zstd: {
            while (true) {
                KAPSEL_TRY(fill());
                ZSTD_inBuffer input{in_.data() + in_pos_, in_len_ - in_pos_, 0};
                ZSTD_outBuffer output{buf, n, 0};
                size_t rc = ZSTD_decompressStream(zstd_, &output, &input);
                in_pos_ += input.pos;
                if (ZSTD_isError(rc)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(rc));
                // 0: a frame is complete (another may follow, as with gzip members).
                if (rc == 0) stream_end_ = true;
                else if (input.pos > 0 || output.pos > 0) stream_end_ = false;
                if (output.pos > 0) return output.pos;
                if (inner_eof_ && in_pos_ >= in_len_) {
                    if (stream_end_) return size_t{0};
                    return make_error("zstd: unexpected end of compressed data");
                }
            }
        }
    }
    return size_t{0};
}

}  // namespace kapsel::image
