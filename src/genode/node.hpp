// A Genode configuration node as data, and its two spellings: the classic XML and
// HID, the "human-inclined data" syntax Genode reads since release 26.02. Both
// writers take the same tree, so the two files say the same thing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kapsel::genode {

struct Node {
    std::string type;
    std::vector<std::pair<std::string, std::string>> attrs;  // in order; "name" first if present
    std::vector<Node> children;
    // Quoted content (XML: the element's text; HID: ": " lines), for <arg> and <env>
    // values. Never together with children.
    std::optional<std::string> content;

    Node& attr(std::string key, std::string value) {
        attrs.emplace_back(std::move(key), std::move(value));
        return *this;
    }
    Node& add(Node child) {
        children.push_back(std::move(child));
        return children.back();
    }
    const std::string* find_attr(std::string_view key) const;
};

// What the two syntaxes can carry, as Genode reads them. Attribute values are taken
// raw by Genode's XML parser (no entity decoding) and trimmed by HID, which also
// splits at '|'; quoted content is decoded in XML and verbatim in HID.
bool attribute_ok(std::string_view v);  // nonempty, printable, no '|', & < " or edge spaces
bool node_name_ok(std::string_view v);  // attribute_ok and not read as "tag:" by HID
bool content_ok(std::string_view v);    // nonempty, not only blanks, printable (tab and
                                        // inner newlines allowed), no trailing newline

std::string to_xml(const Node& n);
// A complete HID document: the node at the top level, closed by "-".
std::string to_hid(const Node& n);

}  // namespace kapsel::genode
