// Pull-based byte streams for import: a file, a bounded slice of another stream
// (one tar entry), a hashing tap, and transparent gzip/zstd decompression. An
// image is read once, front to back: each layer is unpacked while it streams by.
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "image/digest.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::image {

class Reader {
public:
    virtual ~Reader() = default;
    // Up to n bytes; 0 at the end.
    virtual Result<size_t> read(char* buf, size_t n) = 0;
    // Reads exactly n bytes or fails ("unexpected end of ...").
    Status read_full(char* buf, size_t n, const std::string& what);
    // Reads and drops everything left.
    Status drain();
    Result<std::string> read_all(size_t limit);
};

class FdReader final : public Reader {
public:
    FdReader(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    Result<size_t> read(char* buf, size_t n) override;

private:
    int fd_;
    std::string name_;
};

class StringReader final : public Reader {
public:
    explicit StringReader(std::string data) : data_(std::move(data)) {}
    Result<size_t> read(char* buf, size_t n) override;

private:
    std::string data_;
    size_t pos_ = 0;
};

// At most `limit` bytes of `inner`.
class LimitedReader final : public Reader {
public:
    LimitedReader(Reader& inner, uint64_t limit) : inner_(inner), left_(limit) {}
    Result<size_t> read(char* buf, size_t n) override;
    uint64_t left() const { return left_; }

private:
    Reader& inner_;
    uint64_t left_;
};

// Passes bytes through and hashes them (a layer's digest, or its diff id).
class HashingReader final : public Reader {
public:
    // `wanted`, when given, is asked after each read whether to hash at all (an
    // uncompressed layer's diff id is its blob digest: the same bytes need no second hash).
    explicit HashingReader(Reader& inner, std::function<bool()> wanted = {})
        : inner_(inner), wanted_(std::move(wanted)) {}
    Result<size_t> read(char* buf, size_t n) override;
    std::string digest() { return hash_.digest(); }
    uint64_t size() const { return size_; }

private:
    Reader& inner_;
    std::function<bool()> wanted_;
    Sha256 hash_;
    uint64_t size_ = 0;
};

// What HashingReader does, plus a copy of everything to `copy_fd` (-1: none), with
// the hashing and the writing done on a second thread: a layer's bytes are hashed
// once as a whole and once per file, and this takes the whole-layer half (and the
// blob's page-cache copy) off the thread that unpacks. Bytes travel in 1 MiB chunks,
// at most four in flight. digest() waits for the thread; a failed write surfaces
// from the next read, or from finish().
class BackgroundHashingReader final : public Reader {
public:
    BackgroundHashingReader(Reader& inner, int copy_fd, std::string copy_name);
    ~BackgroundHashingReader() override;
    Result<size_t> read(char* buf, size_t n) override;
    // Hands over the last chunk and waits until everything is hashed and written.
    Status finish();
    // Valid after finish().
    std::string digest() const { return digest_; }
    uint64_t size() const { return size_; }

private:
    struct Shared;
    Status hand_over();
    Reader& inner_;
    std::unique_ptr<Shared> shared_;
    std::vector<char> chunk_;
    std::string digest_;
    uint64_t size_ = 0;
    bool finished_ = false;
};

// Bytes already read (a peeked prefix), then the rest of `inner`.
class PrefixReader final : public Reader {
public:
    PrefixReader(std::string prefix, Reader& inner) : prefix_(std::move(prefix)), inner_(inner) {}
    Result<size_t> read(char* buf, size_t n) override;

private:
    std::string prefix_;
    size_t pos_ = 0;
    Reader& inner_;
};

enum class Compression { none, gzip, zstd };

// Detects gzip or zstd by their magic numbers and decompresses; anything else
// passes through unchanged.
class Decompressor final : public Reader {
public:
    explicit Decompressor(Reader& inner);
    ~Decompressor() override;
    Result<size_t> read(char* buf, size_t n) override;
    Compression compression() const { return kind_; }

private:
    Status fill();
    Reader& inner_;
    Compression kind_ = Compression::none;
    bool detected_ = false, inner_eof_ = false, stream_end_ = false;
    std::vector<char> in_;
    size_t in_pos_ = 0, in_len_ = 0;
    z_stream z_{};
    ZSTD_DCtx* zstd_ = nullptr;
};

}  // namespace kapsel::image
