// rmi, system check, system prune.
#include "runtime/images.hpp"

#include <algorithm>

#include "runtime/containers.hpp"

namespace kapsel::runtime {

Result<RmiResult> remove_images(const Globals& g, const std::vector<std::string>& refs, bool force,
                                bool all) {
    image::Store store = KAPSEL_TRY(open_store(g));
    auto lock = KAPSEL_TRY(store.lock(true));
    auto index = KAPSEL_TRY(store.lock_index());
    RmiResult out;
    std::vector<std::string> todo = refs;
    if (all)
        for (auto& img : KAPSEL_TRY(store.images())) todo.push_back(img.id);
    std::vector<image::ImageRecord> removed;
    for (auto& ref : todo) {
        RmiOutcome o{ref, {}, std::nullopt};
        auto fail = [&](Error e) {
            o.error = std::move(e);
            out.images.push_back(std::move(o));
        };
        auto match = store.match_image(ref);
        if (!match) {
            fail(std::move(match).error());
            continue;
        }
        auto [img, name] = *match;
        auto list = KAPSEL_TRY(store.images());
        // A copy of the id: clang 14 cannot capture a structured binding.
        auto it = std::find_if(list.begin(), list.end(), [id = img.id](auto& r) { return r.id == id; });
        if (it == list.end()) {
            fail(Error{ENOENT, "image \"" + ref + "\" is not in the store"});
            continue;
        }
        // One of several names: only the name goes, as podman untags.
        if (!name.empty() && img.names.size() > 1) {
            std::erase(it->names, name);
            KAPSEL_TRY(store.save_images(list));
            o.lines.push_back("Untagged: " + name);
            out.images.push_back(std::move(o));
            continue;
        }
        if (name.empty() && img.names.size() > 1 && !force && !all) {
            std::string names;
            for (auto& n : img.names) names += (names.empty() ? "" : ", ") + n;
            fail(Error{EBUSY, "image " + img.id.substr(7, 12) + " has several names (" + names +
                                  "): remove them one by one, or use rmi -f"});
            continue;
        }
        std::vector<image::ContainerRef> users;
        for (auto& c : container_refs(store))
            if (c.valid && c.image_id == img.id) users.push_back(c);
        if (!users.empty() && !force) {
            auto& c = users.front();
            fail(Error{EBUSY, "image \"" + ref + "\" is in use by container " + c.id.substr(0, 12) +
                                  (c.name.empty() ? "" : " (" + c.name + ")") +
                                  ": remove it first, or use rmi -f"});
            continue;
        }
        bool failed = false;
        for (auto& c : users)
            if (auto st = remove_container_locked(g, store, c.id); !st) {
                fail(std::move(st).error().context("remove container " + c.id.substr(0, 12)));
                failed = true;
                break;
            }
        if (failed) continue;
        // Out of the index first: a kill from here on leaves only unreferenced
        // content, which prune removes.
        list.erase(it);
        KAPSEL_TRY(store.save_images(list));
        for (auto& n : img.names) o.lines.push_back("Untagged: " + n);
        o.lines.push_back("Deleted: " + img.id.substr(7));
        removed.push_back(img);
        out.images.push_back(std::move(o));
    }
    if (!removed.empty())
        out.freed = KAPSEL_TRY(image::remove_unused(store, container_refs(store), removed));
    return out;
}

Result<image::CheckResult> system_check(const Globals& g, bool repair) {
    image::Store store = KAPSEL_TRY(open_store(g));
    // Exclusive: with no import or run in flight, anything half-made is a leftover.
    auto lock = KAPSEL_TRY(store.lock(true));
    auto index = KAPSEL_TRY(store.lock_index());
    auto refs = container_refs(store);
    auto result = KAPSEL_TRY(image::check_store(store, refs, repair));
    for (auto& id : abandoned_containers(g, store)) {
        auto ref = std::find_if(refs.begin(), refs.end(), [&](auto& c) { return c.id == id; });
        if (ref != refs.end() && ref->valid)  // the others check_store reported
            result.findings.push_back({"container " + id.substr(0, 12) +
                                           (ref->name.empty() ? "" : " (" + ref->name + ")"),
                                       "a --rm container whose monitor died", true});
    }
    for (auto& id : stale_network_attachments(g, store)) {
        if (repair) {
            auto st = detach_network(id);
            result.findings.push_back({"container " + id.substr(0, 12) + "'s network",
                                       st ? "set up after it ended: taken down" : "set up after it ended: " + st.error().message,
                                       true});
        } else {
            result.findings.push_back({"container " + id.substr(0, 12) + "'s network",
                                       "set up after it ended (its monitor died): system prune takes it down",
                                       true});
        }
    }
    if (auto orphans = orphaned_dns_records(repair))
        for (auto& id : *orphans)
            result.findings.push_back({"aardvark-dns's name for container " + id.substr(0, 12),
                                       repair ? "no such container on the network: forgotten"
                                              : "no such container on the network: system prune forgets it",
                                       true});
    return result;
}

Result<image::Freed> system_prune(const Globals& g) {
    image::Store store = KAPSEL_TRY(open_store(g));
    auto lock = KAPSEL_TRY(store.lock(true));
    auto index = KAPSEL_TRY(store.lock_index());
    image::Freed out;
    for (auto& id : abandoned_containers(g, store)) {
        KAPSEL_TRY_CTX(remove_container_locked(g, store, id),
                       "remove container " + id.substr(0, 12));
        out.removed.push_back("removed container " + id.substr(0, 12));
    }
    for (auto& id : stale_network_attachments(g, store)) {
        KAPSEL_TRY_CTX(detach_network(id), "take down container " + id.substr(0, 12) + "'s network");
        out.removed.push_back("took down container " + id.substr(0, 12) + "'s network");
    }
    for (auto& id : KAPSEL_TRY_CTX(take_down_spares(""), "take down the networks' spare namespaces"))
        out.removed.push_back("took down spare network namespace " + id.substr(0, 12));
    for (auto& id : KAPSEL_TRY_CTX(orphaned_dns_records(true), "forget names of containers gone"))
        out.removed.push_back("forgot aardvark-dns's name for container " + id.substr(0, 12));
    auto rest = KAPSEL_TRY(image::prune_store(store, container_refs(store)));
    out.removed.insert(out.removed.end(), rest.removed.begin(), rest.removed.end());
    out.bytes += rest.bytes;
    return out;
}

}  // namespace kapsel::runtime
