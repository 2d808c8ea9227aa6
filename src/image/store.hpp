// The image store under --storage-root (default /var/lib/kapsel):
//
//   blobs/sha256/<hex>      content-addressed blobs: manifests, configs, layer tars
//   layers/<diffid hex>/    each layer unpacked once, shared by every image using it
//   layers/<diffid hex>.json  the layer's completion marker, written last (after the
//                           data is on disk): a layer without one is not there
//   files/<xx>/<key>        every regular file of every layer, once per content and
//                           inode metadata (mode, owner, mtime, xattrs: filestore.hpp);
//                           layer files are hardlinks here, so equal files are one
//                           inode on disk and one copy in the page cache; a stored
//                           inode is never changed once it has its name
//   images.json             names and tags -> images
//   containers/<id>/        a container's copy-on-write upper, work dir and mount
//   tmp/                    everything is written here first, then renamed in; what
//                           a killed import leaves here, prune removes
//   lock                    flock: shared to add (imports, run, container removal),
//                           exclusive to delete content (rmi, prune, check)
//   index.lock              flock: serialises images.json and container names
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/stream.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace kapsel::image {

struct ImageRecord {
    std::string id;        // the config digest
    std::string manifest;  // the manifest digest
    std::vector<std::string> names;   // "docker.io/library/busybox:latest"
    std::vector<std::string> layers;  // diff ids, bottom first
    std::string created;
    uint64_t size = 0;     // sum of the unpacked layers' content
};

struct LayerResult {
    Compression compression = Compression::none;
    std::string diff_id;     // sha256 of the uncompressed tar
    std::string blob_digest; // sha256 of the bytes as given (compressed or not)
    uint64_t blob_size = 0;
    uint64_t unpacked_size = 0;
    uint64_t new_files = 0, shared_files = 0;
};

class Store {
public:
    // $KAPSEL_STORAGE, else /var/lib/kapsel; without root $XDG_DATA_HOME/kapsel, else
    // ~/.local/share/kapsel (podman's places).
    static std::string default_root();
    static Result<Store> open(const std::string& root);

    const std::string& root() const { return root_; }
    std::string blob_path(const std::string& digest) const;
    std::string layer_path(const std::string& diff_id) const;
    std::string container_dir(const std::string& id) const { return root_ + "/containers/" + id; }

    // flock on <root>/lock. Shared: anything that adds to the store or takes a reference
    // (import, run, removing a container); exclusive: anything that deletes content or
    // must see a quiescent store (rmi, prune, check). Never taken twice by one process:
    // a second flock on another fd waits for the first.
    Result<unique_fd> lock(bool exclusive) const;
    // flock on <root>/index.lock, exclusive: serialises read-modify-write of images.json
    // and container names between holders of the shared store lock. Always taken after
    // the store lock, never before it.
    Result<unique_fd> lock_index() const;

    bool has_blob(const std::string& digest) const;
    // Stores data whose digest must be `expected` (empty: whatever it is).
    Result<std::string> put_blob(std::string_view data, const std::string& expected = "");
    // Reads a small blob (manifest, config) and checks its digest.
    Result<std::string> read_blob(const std::string& digest, size_t limit = 16 << 20) const;

    // A layer is there when its completion marker is (layers/<hex>.json).
    bool has_layer(const std::string& diff_id) const;
    std::string layer_marker(const std::string& diff_id) const;
    // Writes the marker of a layer whose directory is in place. Call sync() first when
    // anything was written: the marker must never reach the disk before the data.
    Status mark_layer_complete(const std::string& diff_id, const nlohmann::json& info);
    // Streams a layer (tar, gzip or zstd): stores the blob as given, unpacks it with
    // file deduplication, and checks `expected_blob`/`expected_diff_id` if given.
    // A hostile entry or a digest mismatch fails and leaves nothing behind.
    // Refused when the store's file system would fall below its free-space reserve
    // (space.hpp), or the content this Store object unpacked would pass its maximum.
    Result<LayerResult> import_layer(Reader& in, const std::string& expected_blob = "",
                                     const std::string& expected_diff_id = "", bool keep_blob = true);
    // The most file content this Store object's imports may unpack, all layers
    // together (--max-size of load, pull and import); 0: no maximum.
    void set_max_unpacked(uint64_t bytes) { max_unpacked_ = bytes; }

    // Flushes the store's file system (syncfs: one call for a whole import instead of an
    // fsync per file) when this Store object wrote anything since the last sync.
    Status sync();
    bool dirty() const { return dirty_; }
    void set_dirty() { dirty_ = true; }

    Result<std::vector<ImageRecord>> images() const;
    // Adds an image under its names; a name held by another image moves to this one.
    Status add_image(const ImageRecord& rec);
    // An image by name ("busybox", "busybox:1", "localhost/x:y"), id or manifest
    // digest (either one, or a prefix of at least 6 hex digits).
    Result<ImageRecord> find_image(const std::string& ref) const;
    // The same, and the name `ref` matched ("" when it matched an id or digest).
    Result<std::pair<ImageRecord, std::string>> match_image(const std::string& ref) const;
    // Writes the index durably (fsync, then rename). Hold lock_index().
    Status save_images(const std::vector<ImageRecord>& list);

    // A fresh directory under tmp/ (removed by the caller, or by prune).
    Result<std::string> make_temp(const std::string& what) const;
    // A fresh empty file under tmp/ (O_RDWR); its path in `path`.
    Result<unique_fd> make_temp_file(const std::string& what, std::string* path) const;
    // Writes `data` to a file under tmp/ and renames it to `path` (in the store), so
    // a killed writer leaves its temp only in tmp/. `durable`: fsync before the rename.
    Status write_file(const std::string& path, std::string_view data, int mode, bool durable = false);

private:
    explicit Store(std::string root) : root_(std::move(root)) {}
    std::string root_;
    bool dirty_ = false;
    uint64_t max_unpacked_ = 0, unpacked_ = 0;
};

// "busybox" -> "docker.io/library/busybox:latest"; "localhost/x" -> "localhost/x:latest".
std::string normalize_reference(const std::string& ref);
// A name for an image made here (commit, import), as podman names them: without a
// registry it is localhost's, "web" -> "localhost/web:latest".
std::string local_reference(const std::string& ref);

}  // namespace kapsel::image
