// XML and HID writers for Genode configuration nodes.
#include "genode/node.hpp"

namespace kapsel::genode {

const std::string* Node::find_attr(std::string_view key) const {
    for (auto& [k, v] : attrs)
        if (k == key) return &v;
    return nullptr;
}

static bool printable(unsigned char c) {
    return c >= 0x20 && c != 0x7f;
}

bool attribute_ok(std::string_view v) {
    if (v.empty() || v.front() == ' ' || v.back() == ' ') return false;
    for (unsigned char c : v)
        if (!printable(c) || c == '|' || c == '&' || c == '<' || c == '"') return false;
    return true;
}

bool node_name_ok(std::string_view v) {
    if (!attribute_ok(v)) return false;
    // HID reads "word:" or "word: ..." after a node type as an attribute.
    size_t n = 0;
    while (n < v.size() &&
           ((v[n] >= 'a' && v[n] <= 'z') ||
            (n > 0 && ((v[n] >= '0' && v[n] <= '9') || v[n] == '_' || v[n] == '-'))))
        ++n;
    std::string_view rest = v.substr(n);
    if (n > 0 && (rest == ":" || rest.substr(0, 2) == ": ")) return false;
    // Nor as a sub node, a disabled one, a comment or quoted content.
    for (std::string_view lead : {"+ ", "x ", ". ", ": "})
        if (v.substr(0, 2) == lead) return false;
    return v != "+" && v != "." && v != ":";
}

bool content_ok(std::string_view v) {
    if (v.empty() || v.back() == '\n') return false;
    bool blank = true;
    for (unsigned char c : v) {
        if (!printable(c) && c != '\t' && c != '\n') return false;
        if (c != ' ' && c != '\t' && c != '\n') blank = false;
    }
    // Genode's XML parser takes blank element text for no content at all.
    return !blank;
}

namespace {

std::string xml_escape(std::string_view s, bool attribute) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            // '>' stays raw in attributes: labels read "a -> b", and Genode takes
            // attribute values as they stand.
            case '>':
                out += attribute ? ">" : "&gt;";
                break;
            case '"':
                out += attribute ? "&quot;" : "\"";
                break;
            default:
                out += c;
        }
    }
    return out;
}

void xml(const Node& n, int depth, std::string& out) {
    std::string pad(static_cast<size_t>(depth) * 2, ' ');
    out += pad + "<" + n.type;
    for (auto& [k, v] : n.attrs) out += " " + k + "=\"" + xml_escape(v, true) + "\"";
    if (n.content) {
        out += ">" + xml_escape(*n.content, false) + "</" + n.type + ">\n";
        return;
    }
    if (n.children.empty()) {
        out += "/>\n";
        return;
    }
    out += ">\n";
    for (auto& c : n.children) xml(c, depth + 1, out);
    out += pad + "</" + n.type + ">\n";
}

// "type [name] | key: value | ... [| : content]": the node's own line.
std::string hid_head(const Node& n) {
    std::string out = n.type;
    size_t first = 0;
    if (!n.attrs.empty() && n.attrs[0].first == "name" && node_name_ok(n.attrs[0].second)) {
        out += " " + n.attrs[0].second;
        first = 1;
    }
    for (size_t i = first; i < n.attrs.size(); ++i)
        out += " | " + n.attrs[i].first + ": " + n.attrs[i].second;
    return out;
}

bool one_line_content(const Node& n) {
    return n.content && n.content->find('\n') == std::string::npos;
}

// A node that fits on its parent's line: no children, no multi-line content.
bool inline_leaf(const Node& n) {
    return n.children.empty() && (!n.content || one_line_content(n));
}

void hid_content_lines(const Node& n, const std::string& pad, std::string& out) {
    size_t pos = 0;
    const std::string& c = *n.content;
    while (true) {
        size_t nl = c.find('\n', pos);
        std::string line = c.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        out += pad + (line.empty() ? ":" : ": " + line) + "\n";
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
}

void hid_sub(const Node& n, int depth, std::string& out) {
    std::string pad(static_cast<size_t>(depth) * 2, ' ');
    std::string line = pad + "+ " + hid_head(n);
    if (one_line_content(n)) {
        out += line + " | : " + *n.content + "\n";
        return;
    }
    // Tabular style, as Genode writes routes: a single leaf child on its parent's
    // line ("+ service ROM | label_last: sh | + parent", "+ dir tmp | + ram").
    if (n.children.size() == 1 && inline_leaf(n.children[0])) {
        const Node& c = n.children[0];
        line += " | + " + hid_head(c);
        if (c.content) line += " | : " + *c.content;
        out += line + "\n";
        return;
    }
    out += line + "\n";
    if (n.content) hid_content_lines(n, pad + "  ", out);
    for (auto& c : n.children) hid_sub(c, depth + 1, out);
}

}  // namespace

std::string to_xml(const Node& n) {
    std::string out;
    xml(n, 0, out);
    return out;
}

std::string to_hid(const Node& n) {
    std::string out = hid_head(n) + "\n";
    if (n.content) hid_content_lines(n, "  ", out);
    for (auto& c : n.children) hid_sub(c, 0, out);
    return out + "-\n";
}

}  // namespace kapsel::genode
