// Request targets: path segments and query parameters, percent-decoded. Kept apart from server.cpp (Asio
// coroutines) so that pure request parsing builds on its own (tests/fuzz).

#include "lambent/http/server.hpp"

#include "lambent/common/codec.hpp"

#include <algorithm>

namespace lambent::http {

std::optional<std::string> target::param(const std::string& key) const {
    auto it = query.find(key);
    if (it == query.end()) return std::nullopt;
    return it->second;
}

target parse_target(std::string_view raw) {
    target t;
    const auto qpos = raw.find('?');
    const std::string_view path = raw.substr(0, qpos);
    std::size_t start = path.empty() || path.front() != '/' ? 0 : 1;
    t.segments.reserve(static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')) + 1);
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        const auto seg = path.substr(start, end - start);
        if (!(seg.empty() && end == path.size())) {  // one trailing slash is equivalent to none
            auto decoded = codec::percent_decode(seg);
            if (!decoded) {
                t.valid = false;
                return t;
            }
            t.segments.push_back(std::move(*decoded));
        }
        start = end + 1;
    }
    if (qpos != std::string_view::npos) {
        std::string_view q = raw.substr(qpos + 1);
        while (!q.empty()) {
            auto amp = q.find('&');
            const auto pair = q.substr(0, amp);
            const auto eq = pair.find('=');
            auto key = codec::percent_decode(pair.substr(0, eq), true);
            auto value = codec::percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
            if (!key || !value) {
                t.valid = false;
                return t;
            }
            if (!key->empty()) t.query.emplace(std::move(*key), std::move(*value));
            if (amp == std::string_view::npos) break;
            q.remove_prefix(amp + 1);
        }
    }
    return t;
}

}  // namespace lambent::http
