#include "lambent/store/zip_intake.hpp"

#include <fmt/format.h>
#include <zip.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace lambent::store {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view unzip_failed =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

error bad_zip(std::string_view detail) {
    return make_error(errc::invalid_parameter_value,
                      detail.empty() ? std::string(unzip_failed) : fmt::format("{} ({})", unzip_failed, detail));
}

bool out_of_space(int err) { return err == ENOSPC || err == EDQUOT; }

/// The file system under the data dir is full: not the ZIP's fault (store::put_code names the data dir).
error no_space() { return make_error(errc::code_storage_exceeded, "no space left on device"); }

struct zip_closer {
    void operator()(zip_t* z) const { zip_discard(z); }
};
struct zip_file_closer {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};

/// Splits an entry name into components, rejecting absolute paths and `..` (either separator).
bool safe_components(std::string_view name, std::vector<std::string>& out) {
    if (name.empty() || name.front() == '/' || name.front() == '\\') {
        return false;
    }
    if (name.size() >= 2 && name[1] == ':') {
        return false;  // C:\...
    }
    std::string part;
    auto flush = [&]() -> bool {
        if (part == "..") return false;
        if (!part.empty() && part != ".") out.push_back(part);
        part.clear();
        return true;
    };
    for (char c : name) {
        if (c == '/' || c == '\\') {
            if (!flush()) return false;
        } else if (c == '\0') {
            return false;
        } else {
            part.push_back(c);
        }
    }
    return flush();
}

/// True when `target`, interpreted relative to the directory `dir_components`, stays inside the tree.
bool link_stays_inside(const std::vector<std::string>& dir_components, std::string_view target) {
    if (target.empty() || target.front() == '/') {
        return false;
    }
    std::vector<std::string> stack(dir_components);
    std::string part;
    auto apply = [&]() -> bool {
        if (part == "..") {
            if (stack.empty()) return false;
            stack.pop_back();
        } else if (!part.empty() && part != ".") {
            stack.push_back(part);
        }
        part.clear();
        return true;
    };
    for (char c : target) {
        if (c == '/') {
            if (!apply()) return false;
        } else {
            part.push_back(c);
        }
    }
    return apply();
}

struct pending_link {
    fs::path where;
    std::string target;
};

result<unzip_summary> extract_into(zip_t* za, const fs::path& dest, const unzip_limits& limits) {
    const zip_int64_t count = zip_get_num_entries(za, 0);
    if (count < 0) {
        return bad_zip("");
    }
    if (static_cast<std::uint64_t>(count) > limits.max_entries) {
        return bad_zip(fmt::format("{} entries; at most {} are accepted", count, limits.max_entries));
    }
    // First pass: names, declared sizes and ratios, before writing anything.
    std::uint64_t declared = 0;
    for (zip_int64_t i = 0; i < count; ++i) {
        zip_stat_t st;
        if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) != 0) {
            return bad_zip("");
        }
        std::vector<std::string> parts;
        if ((st.valid & ZIP_STAT_NAME) == 0 || !safe_components(st.name, parts)) {
            return bad_zip(fmt::format("entry '{}' is outside the function's directory",
                                       (st.valid & ZIP_STAT_NAME) != 0 ? st.name : ""));
        }
        declared += st.size;
        if (st.size > limits.ratio_min_bytes && st.comp_size > 0 && st.size / st.comp_size > limits.max_ratio) {
            return bad_zip(fmt::format("entry '{}' has a compression ratio above {}:1", st.name, limits.max_ratio));
        }
    }
    if (declared > limits.max_unzipped_bytes) {
        return make_error(errc::invalid_parameter_value,
                          fmt::format("Unzipped size must be smaller than {} bytes", limits.max_unzipped_bytes));
    }

    unzip_summary summary;
    summary.entries = static_cast<std::uint64_t>(count);
    std::vector<pending_link> links;
    std::vector<char> buf(1 << 16);
    for (zip_int64_t i = 0; i < count; ++i) {
        const auto index = static_cast<zip_uint64_t>(i);
        zip_stat_t st;
        zip_stat_index(za, index, 0, &st);
        std::vector<std::string> parts;
        safe_components(st.name, parts);
        if (parts.empty()) {
            continue;
        }
        fs::path out = dest;
        for (const auto& p : parts) out /= p;

        zip_uint8_t opsys = 0;
        zip_uint32_t attr = 0;
        zip_file_get_external_attributes(za, index, 0, &opsys, &attr);
        mode_t mode = 0;
        if (opsys == ZIP_OPSYS_UNIX) {
            mode = static_cast<mode_t>(attr >> 16);
        }
        const std::string_view name(st.name);
        const bool is_dir = name.back() == '/' || S_ISDIR(mode);
        std::error_code ec;
        if (is_dir) {
            fs::create_directories(out, ec);
            if (ec && out_of_space(ec.value())) return no_space();
            if (ec) return bad_zip(fmt::format("cannot create '{}'", name));
            continue;
        }
        fs::create_directories(out.parent_path(), ec);
        if (ec && out_of_space(ec.value())) return no_space();
        if (ec) return bad_zip(fmt::format("cannot create the directory of '{}'", name));

        std::unique_ptr<zip_file_t, zip_file_closer> zf(zip_fopen_index(za, index, 0));
        if (!zf) {
            return bad_zip(fmt::format("cannot read entry '{}'", name));
        }
        if (S_ISLNK(mode)) {
            std::string target;
            for (;;) {
                const zip_int64_t n = zip_fread(zf.get(), buf.data(), buf.size());
                if (n < 0) return bad_zip(fmt::format("cannot read entry '{}'", name));
                if (n == 0) break;
                target.append(buf.data(), static_cast<std::size_t>(n));
                if (target.size() > 4096) return bad_zip(fmt::format("symlink '{}' is too long", name));
            }
            std::vector<std::string> dir(parts.begin(), parts.end() - 1);
            if (!link_stays_inside(dir, target)) {
                return bad_zip(fmt::format("symlink '{}' points outside the function's directory", name));
            }
            links.push_back({out, target});
            continue;
        }
        // Regular file: at least world-readable so the unprivileged worker user can read it.
        const mode_t file_mode = ((mode & 07777) != 0 ? (mode & 0777) : 0644) | 0444;
        const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file_mode);
        if (fd < 0) {
            if (out_of_space(errno)) return no_space();
            return bad_zip(fmt::format("duplicate or unwritable entry '{}'", name));
        }
        bool ok = true;
        int write_errno = 0;
        for (;;) {
            const zip_int64_t n = zip_fread(zf.get(), buf.data(), buf.size());
            if (n < 0) {
                ok = false;
                break;
            }
            if (n == 0) break;
            summary.unzipped_bytes += static_cast<std::uint64_t>(n);
            if (summary.unzipped_bytes > limits.max_unzipped_bytes) {
                ::close(fd);
                return make_error(errc::invalid_parameter_value,
                                  fmt::format("Unzipped size must be smaller than {} bytes", limits.max_unzipped_bytes));
            }
            const char* p = buf.data();
            auto left = static_cast<std::size_t>(n);
            while (left > 0) {
                const ssize_t w = ::write(fd, p, left);
                if (w < 0) {
                    write_errno = errno;
                    ok = false;
                    break;
                }
                p += w;
                left -= static_cast<std::size_t>(w);
            }
            if (!ok) break;
        }
        ::fchmod(fd, file_mode);  // umask must not strip the bits the ZIP asked for
        ::close(fd);
        if (!ok && out_of_space(write_errno)) return no_space();
        if (!ok) {
            return bad_zip(fmt::format("entry '{}' is corrupt", name));
        }
    }
    // Links last, so that no file is ever written through a link created from the archive.
    for (const auto& link : links) {
        std::error_code ec;
        fs::create_symlink(link.target, link.where, ec);
        if (ec && out_of_space(ec.value())) return no_space();
        if (ec) return bad_zip(fmt::format("cannot create symlink '{}'", link.where.filename().string()));
    }
    // The lexical check above cannot see chains (a link whose path runs through another link, such as
    // `s/b -> ..` then `a -> s/b/../../etc`): resolve every link for real and require it to stay inside.
    std::error_code ec;
    const fs::path root = fs::canonical(dest, ec);
    for (const auto& link : links) {
        const fs::path resolved = fs::weakly_canonical(link.where.parent_path() / link.target, ec);
        const fs::path rel = ec ? fs::path("..") : resolved.lexically_relative(root);
        if (rel.empty() || *rel.begin() == "..") {
            return bad_zip(fmt::format("symlink '{}' points outside the function's directory",
                                       link.where.lexically_relative(dest).string()));
        }
    }
    return summary;
}

}  // namespace

result<unzip_summary> extract_zip(std::string_view zip, const fs::path& dest, const unzip_limits& limits) {
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t* src = zip_source_buffer_create(zip.data(), zip.size(), 0, &zerr);
    if (src == nullptr) {
        zip_error_fini(&zerr);
        return bad_zip("");
    }
    std::unique_ptr<zip_t, zip_closer> za(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr));
    zip_error_fini(&zerr);
    if (!za) {
        zip_source_free(src);
        return bad_zip("");
    }
    std::error_code ec;
    if (!fs::create_directory(dest, ec) || ec) {
        if (ec && out_of_space(ec.value())) return no_space();
        return make_error(errc::service, fmt::format("cannot create {}", dest.string()));
    }
    auto res = extract_into(za.get(), dest, limits);
    if (!res) {
        fs::remove_all(dest, ec);
    }
    return res;
}

}  // namespace lambent::store
