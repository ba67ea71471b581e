#include "lambent/logs/logs_api.hpp"

#include "lambent/common/codec.hpp"
#include "lambent/logs/log_stream.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lambent::logs {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Wire names and AWS's limits (botocore logs/2014-03-28 service-2.json).
constexpr std::string_view lambda_group_prefix = "/aws/lambda/";
constexpr std::string_view stream_header = "#stream\t";
constexpr std::string_view stream_file_suffix = ".log";
constexpr std::int64_t describe_limit_max = 50;
constexpr std::int64_t events_limit_max = 10000;
constexpr std::size_t max_stream_names = 100;
constexpr std::size_t max_name_length = 512;
constexpr std::size_t max_filter_pattern_length = 1024;
/// AWS stops a Get/FilterLogEvents page at 1 MB, counting each event as its message plus 26 bytes.
constexpr std::size_t max_page_bytes = 1048576;
constexpr std::size_t event_overhead_bytes = 26;
/// A FilterLogEvents call reads at most this much before it returns what it has with a nextToken (AWS
/// also returns partial, even empty, pages with a token when a search takes long).
constexpr std::uint64_t filter_scan_budget_bytes = 64ULL * 1024 * 1024;
constexpr std::size_t read_chunk_bytes = 64 * 1024;
/// FilterLogEvents reads all selected streams side by side; their buffers share this budget.
constexpr std::size_t merge_buffer_budget_bytes = 16 * 1024 * 1024;
constexpr std::size_t min_merge_chunk_bytes = 4 * 1024;
constexpr std::int64_t ms_per_day = 86'400'000;
/// File times come from the kernel's coarse clock, event times from the precise one: allow for the lag.
constexpr std::int64_t mtime_slack_ms = 1000;

constexpr std::string_view invalid_token_message = "The specified nextToken is invalid.";
constexpr std::string_view group_not_found_message = "The specified log group does not exist.";
constexpr std::string_view stream_not_found_message = "The specified log stream does not exist.";

std::int64_t now_epoch_ms() { return codec::now_ms().time_since_epoch().count(); }

error invalid_parameter(std::string message) { return make_error(errc::validation, std::move(message)); }

/// AWS's shape-constraint message, as CloudWatch Logs words it.
error constraint_error(std::string_view member, std::string_view value, std::string_view constraint) {
    return invalid_parameter(fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {}",
                                         value, member, constraint));
}

error missing_member(std::string_view member) {
    return invalid_parameter(fmt::format(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", member));
}

error type_error(std::string_view member, std::string_view expected) {
    return make_error(errc::invalid_request_content,
                      fmt::format("Value of '{}' must be {}", member, expected));
}

// ---------------------------------------------------------------------------------------------
// Request members

[[nodiscard]] result<std::optional<std::string>> get_string(const json& req, const char* key) {
    auto it = req.find(key);
    if (it == req.end() || it->is_null()) return std::optional<std::string>{};
    if (!it->is_string()) return type_error(key, "a string");
    return std::optional<std::string>{it->get<std::string>()};
}

[[nodiscard]] result<std::optional<std::int64_t>> get_int(const json& req, const char* key) {
    auto it = req.find(key);
    if (it == req.end() || it->is_null()) return std::optional<std::int64_t>{};
    if (it->is_number_unsigned()) {
        const auto v = it->get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return type_error(key, "an integer");
        return std::optional<std::int64_t>{static_cast<std::int64_t>(v)};
    }
    if (!it->is_number_integer()) return type_error(key, "an integer");
    return std::optional<std::int64_t>{it->get<std::int64_t>()};
}

[[nodiscard]] result<bool> get_bool(const json& req, const char* key, bool fallback) {
    auto it = req.find(key);
    if (it == req.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return type_error(key, "a boolean");
    return it->get<bool>();
}

[[nodiscard]] result<std::int64_t> get_limit(const json& req, std::int64_t max) {
    auto v = get_int(req, "limit");
    if (!v) return v.error();
    if (!*v) return max;
    if (**v < 1) {
        return constraint_error("limit", std::to_string(**v), "Member must have value greater than or equal to 1");
    }
    if (**v > max) {
        return constraint_error("limit", std::to_string(**v), fmt::format("Member must have value less than or equal to {}", max));
    }
    return **v;
}

[[nodiscard]] result<std::optional<std::int64_t>> get_timestamp(const json& req, const char* key) {
    auto v = get_int(req, key);
    if (!v) return v.error();
    if (*v && **v < 0) {
        return constraint_error(key, std::to_string(**v), "Member must have value greater than or equal to 0");
    }
    return *v;
}

bool is_group_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_' || c == '/' || c == '#';
}

[[nodiscard]] result<void> check_group_name(std::string_view member, std::string_view name) {
    if (name.empty() || name.size() > max_name_length) {
        return constraint_error(member, name, "Member must have length between 1 and 512");
    }
    if (!std::all_of(name.begin(), name.end(), is_group_name_char)) {
        return constraint_error(member, name, "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    }
    return {};
}

[[nodiscard]] result<void> check_stream_name(std::string_view member, std::string_view name) {
    if (name.empty() || name.size() > max_name_length) {
        return constraint_error(member, name, "Member must have length between 1 and 512");
    }
    if (name.find_first_of(":*") != std::string_view::npos) {
        return constraint_error(member, name, "Member must satisfy regular expression pattern: [^:*]*");
    }
    return {};
}

/// Function names as Lambda allows them; directories named otherwise are not log groups.
bool is_function_name(std::string_view name) {
    if (name.empty() || name.size() > 140) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

/// `/aws/lambda/NAME` → NAME, when NAME is a function name (so it can never leave logs_dir).
std::optional<std::string> function_of_group(std::string_view group) {
    if (group.substr(0, lambda_group_prefix.size()) != lambda_group_prefix) return std::nullopt;
    const auto name = group.substr(lambda_group_prefix.size());
    if (!is_function_name(name)) return std::nullopt;
    return std::string(name);
}

/// The group of a request: `logGroupName`, or `logGroupIdentifier` (a name or a log group ARN).
[[nodiscard]] result<std::string> get_group(const json& req) {
    auto name = get_string(req, "logGroupName");
    if (!name) return name.error();
    auto ident = get_string(req, "logGroupIdentifier");
    if (!ident) return ident.error();
    if (*name && *ident) {
        return invalid_parameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.");
    }
    if (*ident) {
        std::string id = **ident;
        if (id.rfind("arn:", 0) == 0) {
            const auto pos = id.find(":log-group:");
            if (pos == std::string::npos) {
                return invalid_parameter(fmt::format("Invalid log group identifier: {}", id));
            }
            id = id.substr(pos + std::string_view(":log-group:").size());
            if (id.size() >= 2 && id.compare(id.size() - 2, 2, ":*") == 0) id.resize(id.size() - 2);
        }
        auto ok = check_group_name("logGroupIdentifier", id);
        if (!ok) return ok.error();
        return id;
    }
    if (!*name) return missing_member("logGroupName");
    auto ok = check_group_name("logGroupName", **name);
    if (!ok) return ok.error();
    return **name;
}

// ---------------------------------------------------------------------------------------------
// Files

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

/// Reads up to `n` bytes at `offset` (fewer at the end of the file). Empty on EOF or error.
std::string read_at(int fd, std::uint64_t offset, std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
}

std::int64_t to_ms(const struct statx_timestamp& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1000 + static_cast<std::int64_t>(t.tv_nsec / 1'000'000);
}

struct file_times {
    std::uint64_t size = 0;
    std::int64_t mtime_ms = 0;
    std::int64_t birth_ms = 0;  // mtime when the file system does not record a birth time
};

std::optional<file_times> stat_times(int dirfd, const char* path, int flags) {
    struct statx st {};
    if (::statx(dirfd, path, flags, STATX_SIZE | STATX_MTIME | STATX_BTIME, &st) != 0) return std::nullopt;
    file_times t;
    t.size = st.stx_size;
    t.mtime_ms = to_ms(st.stx_mtime);
    t.birth_ms = (st.stx_mask & STATX_BTIME) != 0 ? to_ms(st.stx_btime) : t.mtime_ms;
    return t;
}

unique_fd open_file(const fs::path& path) { return unique_fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)}; }

/// One log stream file as it was when listed: everything a call reads stays within that snapshot (`end`) so a
/// page is consistent while the writer appends. No descriptor is kept: a group can hold more streams than
/// a process may open files.
struct stream_file {
    fs::path path;
    std::string file_name;
    std::string name;
    std::uint64_t data_offset = 0;  // first byte after the header line
    std::uint64_t end = 0;          // first byte after the last complete line of the snapshot
    file_times times;
};

/// The end of the last complete line in [from, size): a line still being written is not read.
std::uint64_t complete_end(int fd, std::uint64_t from, std::uint64_t size) {
    std::uint64_t at = size;
    while (at > from) {
        const std::uint64_t n = std::min<std::uint64_t>(4096, at - from);
        const std::string chunk = read_at(fd, at - n, static_cast<std::size_t>(n));
        if (chunk.size() != n) return from;
        if (const auto p = chunk.rfind('\n'); p != std::string::npos) return at - n + p + 1;
        at -= n;
    }
    return from;
}

/// Opens a stream file and reads its header. nullopt when it is not (yet) a stream: the writer's first
/// flush may not have happened, or the file is something else.
std::optional<stream_file> open_stream(const fs::path& path) {
    const unique_fd fd = open_file(path);
    if (!fd) return std::nullopt;
    auto times = stat_times(fd.get(), "", AT_EMPTY_PATH);
    if (!times) return std::nullopt;
    const std::string head = read_at(fd.get(), 0, std::min<std::uint64_t>(times->size, max_name_length + 64));
    if (head.substr(0, stream_header.size()) != stream_header) return std::nullopt;
    const auto nl = head.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    stream_file s;
    s.path = path;
    s.file_name = path.filename().string();
    s.name = head.substr(stream_header.size(), nl - stream_header.size());
    s.data_offset = nl + 1;
    s.times = *times;
    s.end = complete_end(fd.get(), s.data_offset, times->size);
    return s;
}

/// Every stream of a group directory, sorted by stream name.
std::vector<stream_file> list_streams(const fs::path& dir) {
    std::vector<stream_file> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto& p = it->path();
        const auto fname = p.filename().string();
        if (fname.size() <= stream_file_suffix.size() ||
            fname.compare(fname.size() - stream_file_suffix.size(), stream_file_suffix.size(), stream_file_suffix) != 0) {
            continue;
        }
        if (auto s = open_stream(p)) out.push_back(std::move(*s));
    }
    std::sort(out.begin(), out.end(), [](const stream_file& a, const stream_file& b) { return a.name < b.name; });
    return out;
}

/// The stream named `name`: its own file name first, then any file whose header names it.
std::optional<stream_file> find_stream(const fs::path& dir, const std::string& name) {
    if (auto s = open_stream(dir / stream_file_name(name)); s && s->name == name) return s;
    for (auto& s : list_streams(dir)) {
        if (s.name == name) return std::move(s);
    }
    return std::nullopt;
}

struct event_line {
    std::uint64_t offset = 0;  // first byte of the line
    std::uint64_t end = 0;     // first byte after its newline
    std::int64_t timestamp = 0;
    std::string_view message;
};

/// `<epoch ms>\t<message>`; nullopt for anything else (the header, a damaged line).
std::optional<std::pair<std::int64_t, std::string_view>> parse_event(std::string_view line) {
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0) return std::nullopt;
    std::int64_t ts = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + tab, ts);
    if (ec != std::errc{} || ptr != line.data() + tab) return std::nullopt;
    return std::pair{ts, line.substr(tab + 1)};
}

/// Complete lines of [from, to) in file order. Only lines that end with a newline inside the range are
/// returned; `position()` is the offset of the next unread line.
class forward_lines {
public:
    /// Reads through an open descriptor.
    forward_lines(int fd, std::uint64_t from, std::uint64_t to) : fd_(fd), pos_(from), to_(to) {}
    /// Opens `path` for each chunk it reads (many of these may be live at once: one per merged stream).
    forward_lines(fs::path path, std::uint64_t from, std::uint64_t to, std::size_t chunk_bytes)
        : path_(std::move(path)), pos_(from), to_(to), chunk_bytes_(chunk_bytes) {}

    /// The next event line (damaged lines are skipped); nullopt at the end of the range.
    std::optional<event_line> next() {
        while (true) {
            auto nl = buf_.find('\n', start_);
            while (nl == std::string::npos) {
                if (!fill()) return std::nullopt;
                nl = buf_.find('\n', start_);
            }
            const std::string_view line(buf_.data() + start_, nl - start_);
            event_line ev;
            ev.offset = pos_;
            ev.end = pos_ + (nl - start_) + 1;
            start_ = nl + 1;
            pos_ = ev.end;
            if (auto parsed = parse_event(line)) {
                ev.timestamp = parsed->first;
                ev.message = parsed->second;
                return ev;
            }
        }
    }

    std::uint64_t position() const { return pos_; }

private:
    bool fill() {
        const std::uint64_t read_from = pos_ + (buf_.size() - start_);
        if (read_from >= to_) return false;
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, to_ - read_from));
        std::string chunk;
        if (fd_ >= 0) {
            chunk = read_at(fd_, read_from, n);
        } else if (const unique_fd fd = open_file(path_); fd) {
            chunk = read_at(fd.get(), read_from, n);
        }
        if (chunk.empty()) return false;
        buf_.erase(0, start_);
        start_ = 0;
        buf_ += chunk;
        return true;
    }

    int fd_ = -1;
    fs::path path_;
    std::uint64_t pos_;
    std::uint64_t to_;
    std::size_t chunk_bytes_ = read_chunk_bytes;
    std::string buf_;
    std::size_t start_ = 0;
};

/// Complete lines of [from, to) from the last to the first; `to` must be a line start.
class backward_lines {
public:
    backward_lines(int fd, std::uint64_t from, std::uint64_t to) : fd_(fd), from_(from), buf_start_(to), cur_(to) {}

    /// The previous event line (damaged lines are skipped); nullopt at the start of the range.
    std::optional<event_line> prev() {
        while (cur_ > from_) {
            // buf_ holds [buf_start_, cur_): find the newline that ends the line before the current one.
            std::optional<std::size_t> nl;
            while (true) {
                if (buf_.size() >= 2) {
                    const auto p = std::string_view(buf_).substr(0, buf_.size() - 1).rfind('\n');
                    if (p != std::string_view::npos) {
                        nl = p;
                        break;
                    }
                }
                if (buf_start_ <= from_) break;
                if (!grow()) return std::nullopt;
            }
            if (buf_.empty() || buf_.back() != '\n') return std::nullopt;
            const std::size_t line_start = nl ? *nl + 1 : 0;
            const std::string_view line(buf_.data() + line_start, buf_.size() - 1 - line_start);
            event_line ev;
            ev.offset = buf_start_ + line_start;
            ev.end = cur_;
            const auto parsed = parse_event(line);
            if (parsed) {
                held_.assign(parsed->second);
                ev.timestamp = parsed->first;
                ev.message = held_;
            }
            buf_.resize(line_start);
            cur_ = ev.offset;
            if (parsed) return ev;
        }
        return std::nullopt;
    }

private:
    bool grow() {
        const std::uint64_t n = std::min<std::uint64_t>(read_chunk_bytes, buf_start_ - from_);
        std::string chunk = read_at(fd_, buf_start_ - n, static_cast<std::size_t>(n));
        if (chunk.size() != n) return false;
        buf_.insert(0, chunk);
        buf_start_ -= n;
        return true;
    }

    int fd_;
    std::uint64_t from_;
    std::uint64_t buf_start_;  // file offset of buf_[0]; buf_ ends at cur_
    std::uint64_t cur_;        // start of the last line returned
    std::string buf_;
    std::string held_;  // the message of the line returned last
};

/// First line start at or after `pos` within [from, to); `to` when there is none.
std::uint64_t next_line_start(int fd, std::uint64_t from, std::uint64_t pos, std::uint64_t to) {
    if (pos <= from) return from;
    std::uint64_t at = pos - 1;  // a line starts at pos when the byte before it is a newline
    while (at < to) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(4096, to - at));
        const std::string chunk = read_at(fd, at, n);
        if (chunk.empty()) return to;
        if (const auto nl = chunk.find('\n'); nl != std::string::npos) return at + nl + 1;
        at += chunk.size();
    }
    return to;
}

/// Offset of the first event line in [from, to) with timestamp >= `ts` (`to` when none): a binary search
/// over line starts (streams are appended in time order), then a short linear scan.
std::uint64_t lower_bound_time(int fd, std::uint64_t from, std::uint64_t to, std::int64_t ts) {
    std::uint64_t lo = from;  // every line before lo is older than ts (the line at lo may be too)
    std::uint64_t hi = to;    // the line at hi (or the end) is not older than ts
    while (hi - lo > 2 * read_chunk_bytes) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        const std::uint64_t p = next_line_start(fd, from, mid, hi);
        if (p >= hi) break;
        const std::string head = read_at(fd, p, 24);
        const auto tab = head.find('\t');
        std::int64_t line_ts = 0;
        if (tab == std::string::npos ||
            std::from_chars(head.data(), head.data() + tab, line_ts).ptr != head.data() + tab) {
            break;  // a damaged line: finish linearly
        }
        if (line_ts < ts) {
            lo = p;
        } else {
            hi = p;
        }
    }
    forward_lines lines(fd, lo, hi);
    while (auto ev = lines.next()) {
        if (ev->timestamp >= ts) return ev->offset;
    }
    return hi;
}

/// Timestamp of the first and the last event of a stream.
std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>> event_range(const stream_file& s) {
    const unique_fd fd = open_file(s.path);
    if (!fd) return {std::nullopt, std::nullopt};
    forward_lines first(fd.get(), s.data_offset, s.end);
    auto a = first.next();
    if (!a) return {std::nullopt, std::nullopt};
    backward_lines last(fd.get(), s.data_offset, s.end);
    auto b = last.prev();
    return {a->timestamp, b ? std::optional<std::int64_t>{b->timestamp} : a->timestamp};
}

/// A valid offset to resume a stream at: inside the snapshot and at a line start.
bool is_line_start(int fd, const stream_file& s, std::uint64_t offset) {
    if (offset < s.data_offset || offset > s.end) return false;
    if (offset == s.data_offset) return true;
    const std::string before = read_at(fd, offset - 1, 1);
    return before == "\n";
}

/// Stable across calls (`aws logs tail --follow` de-duplicates by it): the stream and the line's offset.
std::string event_id(const stream_file& s, std::uint64_t offset) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
    for (unsigned char c : s.name) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return fmt::format("{:020}{:020}", h, offset);
}

/// Page tokens that are not byte offsets are base64 of a small JSON document.
std::string encode_token(const json& j) { return codec::base64_encode(j.dump()); }

[[nodiscard]] result<json> decode_token(const std::string& token) {
    auto raw = codec::base64_decode(token);
    if (!raw) return invalid_parameter(std::string(invalid_token_message));
    auto j = json::parse(*raw, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid_parameter(std::string(invalid_token_message));
    return result<json>(boost::system::in_place_value, std::move(j));
}

std::string group_arn(const logs_options& o, std::string_view group) {
    return fmt::format("arn:aws:logs:{}:{}:log-group:{}", o.region, o.account, group);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Filter patterns

result<filter_pattern> filter_pattern::parse(std::string_view pattern) {
    filter_pattern fp;
    std::size_t i = 0;
    auto skip_spaces = [&] {
        while (i < pattern.size() && (pattern[i] == ' ' || pattern[i] == '\t')) ++i;
    };
    skip_spaces();
    if (i < pattern.size() && (pattern[i] == '{' || pattern[i] == '[' || pattern[i] == '%')) {
        return invalid_parameter(
            "Invalid filter pattern: JSON, space-delimited and regular-expression patterns are not supported by "
            "Lambent; use terms, \"quoted phrases\", ?alternatives and -exclusions");
    }
    while (i < pattern.size()) {
        char kind = ' ';
        if ((pattern[i] == '?' || pattern[i] == '-') && i + 1 < pattern.size() && pattern[i + 1] != ' ' &&
            pattern[i + 1] != '\t') {
            kind = pattern[i];
            ++i;
        }
        std::string term;
        if (pattern[i] == '"') {
            ++i;
            bool closed = false;
            while (i < pattern.size()) {
                const char c = pattern[i++];
                if (c == '\\' && i < pattern.size()) {
                    term.push_back(pattern[i++]);
                } else if (c == '"') {
                    closed = true;
                    break;
                } else {
                    term.push_back(c);
                }
            }
            if (!closed) {
                return invalid_parameter(fmt::format("Invalid filter pattern: unterminated quoted phrase in '{}'", pattern));
            }
        } else {
            while (i < pattern.size() && pattern[i] != ' ' && pattern[i] != '\t') term.push_back(pattern[i++]);
        }
        if (!term.empty()) {
            auto& list = kind == '?' ? fp.any_of : kind == '-' ? fp.excluded : fp.required;
            list.push_back(std::move(term));
        }
        skip_spaces();
    }
    return fp;
}

bool filter_pattern::matches(std::string_view message) const {
    const auto has = [message](const std::string& t) { return message.find(t) != std::string_view::npos; };
    if (!std::all_of(required.begin(), required.end(), has)) return false;
    if (std::any_of(excluded.begin(), excluded.end(), has)) return false;
    return any_of.empty() || std::any_of(any_of.begin(), any_of.end(), has);
}

// ---------------------------------------------------------------------------------------------
// Operations

namespace {

struct call_context {
    const logs_options& options;
    std::int64_t now_ms = 0;

    /// Events older than this are hidden (retention); 0 when logs are kept forever.
    std::int64_t retention_floor_ms() const {
        return options.retention_days > 0 ? now_ms - static_cast<std::int64_t>(options.retention_days) * ms_per_day : 0;
    }
};

[[nodiscard]] result<fs::path> group_dir(const call_context& c, const std::string& group) {
    auto fn = function_of_group(group);
    if (!fn) return make_error(errc::resource_not_found, std::string(group_not_found_message));
    fs::path dir = c.options.logs_dir / *fn;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return make_error(errc::resource_not_found, std::string(group_not_found_message));
    return dir;
}

[[nodiscard]] result<json> describe_log_groups(const call_context& c, const json& req) {
    auto limit = get_limit(req, describe_limit_max);
    if (!limit) return limit.error();
    auto prefix = get_string(req, "logGroupNamePrefix");
    if (!prefix) return prefix.error();
    auto pattern = get_string(req, "logGroupNamePattern");
    if (!pattern) return pattern.error();
    auto token = get_string(req, "nextToken");
    if (!token) return token.error();
    if (*prefix) {
        auto ok = check_group_name("logGroupNamePrefix", **prefix);
        if (!ok) return ok.error();
    }
    if (*prefix && *pattern) {
        return invalid_parameter("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
    }
    std::string after;
    if (*token) {
        auto t = decode_token(**token);
        if (!t) return t.error();
        auto it = t->find("after");
        if (it == t->end() || !it->is_string()) return invalid_parameter(std::string(invalid_token_message));
        after = it->get<std::string>();
    }

    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(c.options.logs_dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code dir_ec;
        if (!it->is_directory(dir_ec)) continue;
        const auto fname = it->path().filename().string();
        if (!is_function_name(fname)) continue;
        std::string group = std::string(lambda_group_prefix) + fname;
        if (*prefix && group.rfind(**prefix, 0) != 0) continue;
        if (*pattern && group.find(**pattern) == std::string::npos) continue;
        if (!after.empty() && group <= after) continue;
        names.push_back(std::move(group));
    }
    std::sort(names.begin(), names.end());

    json groups = json::array();
    const auto n = std::min<std::size_t>(names.size(), static_cast<std::size_t>(*limit));
    for (std::size_t i = 0; i < n; ++i) {
        const auto& group = names[i];
        const fs::path dir = c.options.logs_dir / group.substr(lambda_group_prefix.size());
        const auto dir_times = stat_times(AT_FDCWD, dir.c_str(), 0);
        std::uint64_t stored = 0;
        std::error_code fec;
        for (fs::directory_iterator f(dir, fec), fend; !fec && f != fend; f.increment(fec)) {
            std::error_code sec;
            if (f->is_regular_file(sec)) stored += f->file_size(sec);
        }
        json g = {
            {"logGroupName", group},
            {"creationTime", dir_times ? dir_times->birth_ms : c.now_ms},
            {"metricFilterCount", 0},
            {"arn", group_arn(c.options, group) + ":*"},
            {"logGroupArn", group_arn(c.options, group)},
            {"storedBytes", stored},
        };
        if (c.options.retention_days > 0) g["retentionInDays"] = c.options.retention_days;
        groups.push_back(std::move(g));
    }
    json out = {{"logGroups", std::move(groups)}};
    if (names.size() > n && n > 0) out["nextToken"] = encode_token(json{{"after", names[n - 1]}});
    return result<json>(boost::system::in_place_value, std::move(out));
}

[[nodiscard]] result<json> describe_log_streams(const call_context& c, const json& req) {
    auto group = get_group(req);
    if (!group) return group.error();
    auto limit = get_limit(req, describe_limit_max);
    if (!limit) return limit.error();
    auto prefix = get_string(req, "logStreamNamePrefix");
    if (!prefix) return prefix.error();
    if (*prefix) {
        auto ok = check_stream_name("logStreamNamePrefix", **prefix);
        if (!ok) return ok.error();
    }
    auto order = get_string(req, "orderBy");
    if (!order) return order.error();
    const bool by_time = *order && **order == "LastEventTime";
    if (*order && !by_time && **order != "LogStreamName") {
        return constraint_error("orderBy", **order, "Member must satisfy enum value set: [LogStreamName, LastEventTime]");
    }
    if (by_time && *prefix) return invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix.");
    auto descending = get_bool(req, "descending", false);
    if (!descending) return descending.error();
    auto token = get_string(req, "nextToken");
    if (!token) return token.error();
    auto dir = group_dir(c, *group);
    if (!dir) return dir.error();

    struct entry {
        stream_file file;
        std::optional<std::int64_t> first;
        std::optional<std::int64_t> last;
        bool ranged = false;
        std::int64_t sort_time() const { return last.value_or(file.times.birth_ms); }
    };
    std::vector<entry> entries;
    for (auto& s : list_streams(*dir)) {
        if (*prefix && s.name.rfind(**prefix, 0) != 0) continue;
        entries.push_back(entry{std::move(s), std::nullopt, std::nullopt, false});
    }
    auto load_range = [](entry& e) {
        if (e.ranged) return;
        std::tie(e.first, e.last) = event_range(e.file);
        e.ranged = true;
    };
    // Sort key: (time, name) or name; descending reverses it.
    auto key_less = [by_time](std::int64_t ta, const std::string& na, std::int64_t tb, const std::string& nb) {
        return by_time ? std::tie(ta, na) < std::tie(tb, nb) : na < nb;
    };
    if (by_time) {
        for (auto& e : entries) load_range(e);
    }
    const bool desc = *descending;
    std::sort(entries.begin(), entries.end(), [&key_less, desc](const entry& a, const entry& b) {
        return desc ? key_less(b.sort_time(), b.file.name, a.sort_time(), a.file.name)
                    : key_less(a.sort_time(), a.file.name, b.sort_time(), b.file.name);
    });

    std::size_t begin = 0;
    if (*token) {
        auto t = decode_token(**token);
        if (!t) return t.error();
        auto name_it = t->find("name");
        auto time_it = t->find("time");
        if (name_it == t->end() || !name_it->is_string() || time_it == t->end() || !time_it->is_number_integer()) {
            return invalid_parameter(std::string(invalid_token_message));
        }
        const auto tn = name_it->get<std::string>();
        const auto tt = time_it->get<std::int64_t>();
        while (begin < entries.size()) {
            const auto& e = entries[begin];
            const bool after = *descending ? key_less(e.sort_time(), e.file.name, tt, tn)
                                           : key_less(tt, tn, e.sort_time(), e.file.name);
            if (after) break;
            ++begin;
        }
    }
    const std::size_t end = std::min(entries.size(), begin + static_cast<std::size_t>(*limit));
    json streams = json::array();
    for (std::size_t i = begin; i < end; ++i) {
        auto& e = entries[i];
        load_range(e);
        json s = {
            {"logStreamName", e.file.name},
            {"creationTime", e.file.times.birth_ms},
            {"arn", fmt::format("{}:log-stream:{}", group_arn(c.options, *group), e.file.name)},
            {"storedBytes", e.file.times.size},
        };
        if (e.first) s["firstEventTimestamp"] = *e.first;
        if (e.last) {
            s["lastEventTimestamp"] = *e.last;
            s["lastIngestionTime"] = std::max(*e.last, e.file.times.mtime_ms);
        }
        streams.push_back(std::move(s));
    }
    json out = {{"logStreams", std::move(streams)}};
    if (end < entries.size() && end > begin) {
        const auto& e = entries[end - 1];
        out["nextToken"] = encode_token(json{{"name", e.file.name}, {"time", e.sort_time()}});
    }
    return result<json>(boost::system::in_place_value, std::move(out));
}

json output_event(const event_line& ev) {
    return json{{"timestamp", ev.timestamp}, {"message", ev.message}, {"ingestionTime", ev.timestamp}};
}

[[nodiscard]] result<json> get_log_events(const call_context& c, const json& req) {
    auto group = get_group(req);
    if (!group) return group.error();
    auto stream_name = get_string(req, "logStreamName");
    if (!stream_name) return stream_name.error();
    if (!*stream_name) return missing_member("logStreamName");
    auto stream_ok = check_stream_name("logStreamName", **stream_name);
    if (!stream_ok) return stream_ok.error();
    auto start = get_timestamp(req, "startTime");
    if (!start) return start.error();
    auto end_time = get_timestamp(req, "endTime");
    if (!end_time) return end_time.error();
    auto limit = get_limit(req, events_limit_max);
    if (!limit) return limit.error();
    auto from_head = get_bool(req, "startFromHead", false);
    if (!from_head) return from_head.error();
    auto token = get_string(req, "nextToken");
    if (!token) return token.error();
    auto dir = group_dir(c, *group);
    if (!dir) return dir.error();
    auto s = find_stream(*dir, **stream_name);
    if (!s) return make_error(errc::resource_not_found, std::string(stream_not_found_message));

    // The time window [lo, hi) as offsets: startTime inclusive, endTime exclusive (AWS).
    const unique_fd file = open_file(s->path);
    if (!file) return make_error(errc::resource_not_found, std::string(stream_not_found_message));
    const int fd = file.get();
    const std::int64_t floor = std::max<std::int64_t>(start->value_or(0), c.retention_floor_ms());
    const std::uint64_t lo = floor > 0 ? lower_bound_time(fd, s->data_offset, s->end, floor) : s->data_offset;
    const std::uint64_t hi = *end_time ? lower_bound_time(fd, lo, s->end, **end_time) : s->end;

    bool forward = *from_head;
    std::uint64_t position = forward ? lo : hi;
    if (*token) {
        const auto& t = **token;
        std::uint64_t off = 0;
        const bool ok_prefix = t.size() > 2 && (t[0] == 'f' || t[0] == 'b') && t[1] == '/';
        const char* first = t.data() + 2;
        const char* last = t.data() + t.size();
        if (!ok_prefix || std::from_chars(first, last, off).ptr != last || !is_line_start(fd, *s, off)) {
            return invalid_parameter(std::string(invalid_token_message));
        }
        forward = t[0] == 'f';
        position = std::clamp(off, lo, std::max(lo, hi));
    }

    std::vector<event_line> page;
    std::vector<std::string> messages;  // owns the messages of the page
    std::size_t bytes = 0;
    const auto fits = [&](std::string_view m) {
        return page.empty() || bytes + m.size() + event_overhead_bytes <= max_page_bytes;
    };
    std::uint64_t first_offset = position;
    std::uint64_t end_offset = position;
    if (forward) {
        forward_lines lines(fd, position, std::max(position, hi));
        while (page.size() < static_cast<std::size_t>(*limit)) {
            auto ev = lines.next();
            if (!ev || !fits(ev->message)) break;
            bytes += ev->message.size() + event_overhead_bytes;
            messages.emplace_back(ev->message);
            page.push_back(*ev);
            end_offset = ev->end;
        }
        if (!page.empty()) first_offset = page.front().offset;
    } else {
        backward_lines lines(fd, lo, position);
        while (page.size() < static_cast<std::size_t>(*limit)) {
            auto ev = lines.prev();
            if (!ev || !fits(ev->message)) break;
            bytes += ev->message.size() + event_overhead_bytes;
            messages.emplace_back(ev->message);
            page.push_back(*ev);
            first_offset = ev->offset;
        }
        std::reverse(page.begin(), page.end());
        std::reverse(messages.begin(), messages.end());
        if (!page.empty()) end_offset = page.back().end;
    }

    json events = json::array();
    for (std::size_t i = 0; i < page.size(); ++i) {
        page[i].message = messages[i];
        events.push_back(output_event(page[i]));
    }
    json out = {{"events", std::move(events)}};
    // At the end in a direction the token of that direction is the one passed in (AWS: "the same token").
    if (*token && page.empty()) {
        out["nextForwardToken"] = forward ? **token : fmt::format("f/{}", position);
        out["nextBackwardToken"] = forward ? fmt::format("b/{}", position) : **token;
    } else {
        out["nextForwardToken"] = fmt::format("f/{}", end_offset);
        out["nextBackwardToken"] = fmt::format("b/{}", first_offset);
    }
    return result<json>(boost::system::in_place_value, std::move(out));
}

[[nodiscard]] result<json> filter_log_events(const call_context& c, const json& req) {
    auto group = get_group(req);
    if (!group) return group.error();
    auto start = get_timestamp(req, "startTime");
    if (!start) return start.error();
    auto end_time = get_timestamp(req, "endTime");
    if (!end_time) return end_time.error();
    auto limit = get_limit(req, events_limit_max);
    if (!limit) return limit.error();
    auto prefix = get_string(req, "logStreamNamePrefix");
    if (!prefix) return prefix.error();
    if (*prefix) {
        auto ok = check_stream_name("logStreamNamePrefix", **prefix);
        if (!ok) return ok.error();
    }
    auto pattern_text = get_string(req, "filterPattern");
    if (!pattern_text) return pattern_text.error();
    if (*pattern_text && (*pattern_text)->size() > max_filter_pattern_length) {
        return constraint_error("filterPattern", **pattern_text, "Member must have length less than or equal to 1024");
    }
    auto pattern = filter_pattern::parse(pattern_text->value_or(""));
    if (!pattern) return pattern.error();
    auto interleaved = get_bool(req, "interleaved", true);  // deprecated; results are always interleaved
    if (!interleaved) return interleaved.error();
    auto token = get_string(req, "nextToken");
    if (!token) return token.error();

    std::optional<std::vector<std::string>> names;
    if (auto it = req.find("logStreamNames"); it != req.end() && !it->is_null()) {
        if (!it->is_array()) return type_error("logStreamNames", "a list of strings");
        names.emplace();
        for (const auto& n : *it) {
            if (!n.is_string()) return type_error("logStreamNames", "a list of strings");
            auto ok = check_stream_name("logStreamNames.member", n.get<std::string>());
            if (!ok) return ok.error();
            names->push_back(n.get<std::string>());
        }
        if (names->empty() || names->size() > max_stream_names) {
            return constraint_error("logStreamNames", fmt::format("{}", it->dump()),
                                    "Member must have length between 1 and 100");
        }
    }
    if (names && *prefix) {
        return invalid_parameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
    }

    std::map<std::string, std::uint64_t> resume;  // stream file name → offset of its next unread line
    if (*token) {
        auto t = decode_token(**token);
        if (!t) return t.error();
        auto it = t->find("o");
        if (it == t->end() || !it->is_object()) return invalid_parameter(std::string(invalid_token_message));
        for (const auto& [file, off] : it->items()) {
            if (!off.is_number_unsigned()) return invalid_parameter(std::string(invalid_token_message));
            resume[file] = off.get<std::uint64_t>();
        }
    }

    auto dir = group_dir(c, *group);
    if (!dir) return dir.error();
    const std::int64_t floor = std::max<std::int64_t>(start->value_or(0), c.retention_floor_ms());
    const std::int64_t ceiling = end_time->value_or(std::numeric_limits<std::int64_t>::max());

    struct cursor {
        stream_file file;
        std::optional<forward_lines> lines;
        std::optional<event_line> head;
        std::string head_message;
    };
    auto streams = list_streams(*dir);
    // Every merged stream holds a read buffer; with many streams they get smaller (lines still fit: a
    // buffer grows to the longest line it meets).
    const std::size_t chunk_bytes = std::clamp<std::size_t>(merge_buffer_budget_bytes / std::max<std::size_t>(1, streams.size()),
                                                             min_merge_chunk_bytes, read_chunk_bytes);
    std::vector<cursor> cursors;
    json searched = json::array();
    for (auto& s : streams) {
        if (names && std::find(names->begin(), names->end(), s.name) == names->end()) continue;
        if (*prefix && s.name.rfind(**prefix, 0) != 0) continue;
        std::uint64_t from = s.data_offset;
        auto r = resume.find(s.file_name);
        if (r == resume.end() && s.times.mtime_ms + mtime_slack_ms < floor) {
            // Every event was written before its file's last modification: nothing at or after startTime.
            searched.push_back({{"logStreamName", s.name}, {"searchedCompletely", true}});
            continue;
        }
        if (r != resume.end() || floor > 0) {
            const unique_fd fd = open_file(s.path);
            if (!fd) continue;  // removed by retention since it was listed
            if (r != resume.end()) {
                if (!is_line_start(fd.get(), s, r->second)) return invalid_parameter(std::string(invalid_token_message));
                from = r->second;
            } else {
                from = lower_bound_time(fd.get(), s.data_offset, s.end, floor);
            }
        }
        cursor cur{std::move(s), std::nullopt, std::nullopt, {}};
        cur.lines.emplace(cur.file.path, from, cur.file.end, chunk_bytes);
        cursors.push_back(std::move(cur));
    }

    // k-way merge by (timestamp, stream, offset).
    auto advance = [ceiling](cursor& cur) {
        cur.head.reset();
        if (auto ev = cur.lines->next(); ev && ev->timestamp <= ceiling) {
            cur.head_message.assign(ev->message);
            ev->message = cur.head_message;
            cur.head = *ev;
        }
    };
    auto later = [&cursors](std::size_t a, std::size_t b) {
        const auto& x = *cursors[a].head;
        const auto& y = *cursors[b].head;
        return std::tie(x.timestamp, a, x.offset) > std::tie(y.timestamp, b, y.offset);
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)> heap(later);
    for (std::size_t i = 0; i < cursors.size(); ++i) {
        advance(cursors[i]);
        if (cursors[i].head) heap.push(i);
    }

    json events = json::array();
    std::size_t count = 0;
    std::size_t bytes = 0;
    std::uint64_t scanned = 0;
    bool more = false;
    while (!heap.empty()) {
        if (count >= static_cast<std::size_t>(*limit) || scanned >= filter_scan_budget_bytes) {
            more = true;
            break;
        }
        const std::size_t i = heap.top();
        auto& cur = cursors[i];
        const auto& ev = *cur.head;
        if (pattern->matches(ev.message)) {
            if (count > 0 && bytes + ev.message.size() + event_overhead_bytes > max_page_bytes) {
                more = true;
                break;
            }
            bytes += ev.message.size() + event_overhead_bytes;
            ++count;
            events.push_back({{"logStreamName", cur.file.name},
                              {"timestamp", ev.timestamp},
                              {"message", ev.message},
                              {"ingestionTime", ev.timestamp},
                              {"eventId", event_id(cur.file, ev.offset)}});
        }
        scanned += ev.end - ev.offset;
        heap.pop();
        advance(cur);
        if (cur.head) heap.push(i);
    }

    json token_offsets = json::object();
    for (auto& cur : cursors) {
        // The next unread line: the head (read ahead, not consumed) or where the reader stopped.
        const std::uint64_t next = cur.head ? cur.head->offset : cur.lines->position();
        token_offsets[cur.file.file_name] = next;
        searched.push_back({{"logStreamName", cur.file.name}, {"searchedCompletely", !cur.head}});
    }
    json out = {{"events", std::move(events)}, {"searchedLogStreams", std::move(searched)}};
    if (more) out["nextToken"] = encode_token(json{{"o", std::move(token_offsets)}});
    return result<json>(boost::system::in_place_value, std::move(out));
}

logs_api::reply error_reply(const error& e) {
    std::string_view type = "ServiceUnavailableException";
    unsigned status = 500;
    switch (e.code) {
    case errc::validation:
    case errc::invalid_parameter_value: type = "InvalidParameterException"; status = 400; break;
    case errc::resource_not_found: type = "ResourceNotFoundException"; status = 400; break;
    case errc::invalid_request_content: type = "SerializationException"; status = 400; break;
    case errc::unknown_operation: type = "UnknownOperationException"; status = 400; break;
    default: break;
    }
    json body = {{"__type", type}, {"message", e.message}};
    // Messages quote what the client sent (the operation, names), which need not be UTF-8.
    return logs_api::reply{status, body.dump(-1, ' ', false, json::error_handler_t::replace), std::string(type)};
}

}  // namespace

logs_api::logs_api(logs_options o) : options_(std::move(o)) {}

logs_api::reply logs_api::handle(std::string_view operation, std::string_view body) const {
    const call_context c{options_, now_epoch_ms()};
    json req = body.empty() ? json::object() : json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
        return error_reply(make_error(errc::invalid_request_content, "Start of structure or map found where not expected."));
    }
    result<json> res = make_error(errc::unknown_operation, fmt::format("Unknown operation {}", operation));
    try {
        if (operation == "DescribeLogGroups") {
            res = describe_log_groups(c, req);
        } else if (operation == "DescribeLogStreams") {
            res = describe_log_streams(c, req);
        } else if (operation == "GetLogEvents") {
            res = get_log_events(c, req);
        } else if (operation == "FilterLogEvents") {
            res = filter_log_events(c, req);
        }
    } catch (const std::exception& e) {
        // I/O errors from std::filesystem, bad_alloc: the caller gets a 500, the server log the cause.
        spdlog::error("logs: {} failed: {}", operation, e.what());
        res = make_error(errc::service, "The service is unavailable. Please try again.");
    }
    if (!res) return error_reply(res.error());
    return reply{200, res->dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

void logs_api::apply_retention() const {
    if (options_.retention_days <= 0) return;
    const std::int64_t cutoff = now_epoch_ms() - static_cast<std::int64_t>(options_.retention_days) * ms_per_day;
    std::size_t removed = 0;
    std::error_code ec;
    for (fs::directory_iterator g(options_.logs_dir, ec), gend; !ec && g != gend; g.increment(ec)) {
        std::error_code gec;
        if (!g->is_directory(gec) || !is_function_name(g->path().filename().string())) continue;
        for (fs::directory_iterator f(g->path(), gec), fend; !gec && f != fend; f.increment(gec)) {
            const auto& p = f->path();
            if (p.extension() != stream_file_suffix) continue;
            const auto t = stat_times(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW);
            // The last modification is at or after the newest event: older than the cutoff = all expired.
            if (!t || t->mtime_ms >= cutoff) continue;
            std::error_code rec;
            if (fs::remove(p, rec)) ++removed;
        }
    }
    if (removed > 0) spdlog::info("logs: retention removed streams={} retention_days={}", removed, options_.retention_days);
}

}  // namespace lambent::logs
