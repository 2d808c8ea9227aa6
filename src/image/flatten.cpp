// Flattening layers into one tar.
#include "image/flatten.hpp"

#include <sys/stat.h>

#include <map>

#include "image/tree.hpp"

namespace kapsel::image {

namespace {

struct Source {
    size_t layer;
    struct stat st;
};

// Removes everything below `path` (not path itself).
void erase_below(std::map<std::string, Source>& m, const std::string& path) {
    // '0' follows '/' in ASCII: [path/, path0) is exactly the subtree.
    m.erase(m.lower_bound(path + "/"), m.lower_bound(path + "0"));
}

}  // namespace

Result<FlattenResult> write_flat_tar(const std::vector<std::string>& dirs, int fd,
                                     const FlattenOptions& o) {
    std::map<std::string, Source> merged;
    std::vector<Tree> trees;
    for (auto& d : dirs) trees.push_back(KAPSEL_TRY(Tree::open(d)));
    for (size_t i = 0; i < dirs.size(); ++i) {
        KAPSEL_TRY(trees[i].walk([&](const std::string& p, const struct stat& st) -> Status {
            if (o.whiteouts && is_whiteout(st)) {
                merged.erase(p);
                erase_below(merged, p);
                return {};
            }
            auto it = merged.find(p);
            bool was_dir = it != merged.end() && S_ISDIR(it->second.st.st_mode);
            // A directory hides what lower layers had below it when it is opaque; a
            // non-directory hides a lower directory's whole subtree.
            if (S_ISDIR(st.st_mode) ? (o.whiteouts && trees[i].is_opaque(p)) : was_dir)
                erase_below(merged, p);
            merged[p] = {i, st};
            return {};
        }));
    }

    FlattenResult res;
    TarWriter tar(fd, o.format);
    std::map<std::pair<dev_t, ino_t>, std::string> written;  // inode -> first path
    for (auto& [p, src] : merged) {
        const struct stat& st = src.st;
        if (S_ISSOCK(st.st_mode)) continue;
        if (o.skip_special &&
            (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode))) {
            res.skipped_special.push_back(p);
            continue;
        }
        if (S_ISDIR(st.st_mode) && (st.st_mode & 01777) == 01777) res.shared_dirs.push_back(p);
        TarEntry e = entry_from_stat(p, st);
        if (S_ISLNK(st.st_mode) && o.short_links_only) {
            // Genode's tar reads a GNU long name as the link target too.
            if (p.size() > 99 || static_cast<size_t>(st.st_size) > 99) {
                res.skipped_links.push_back(p);
                continue;
            }
        }
        if (S_ISREG(st.st_mode)) {
            auto key = std::make_pair(st.st_dev, st.st_ino);
            auto first = written.find(key);
            bool linkable = first != written.end() &&
                            (!o.short_links_only || (p.size() <= 99 && first->second.size() <= 99));
            if (linkable) {
                e.type = EntryType::hardlink;
                e.link = first->second;
                KAPSEL_TRY(tar.header(e));
                KAPSEL_TRY(tar.end_entry());
                ++res.entries;
                ++res.hardlinks;
                continue;
            }
            if (first == written.end()) written.emplace(key, p);
            ++res.files;
            res.bytes += static_cast<uint64_t>(st.st_size);
        }
        KAPSEL_TRY(trees[src.layer].write_entry(tar, p, e, st));
        ++res.entries;
    }
    KAPSEL_TRY(tar.finish());
    return res;
}

}  // namespace kapsel::image
