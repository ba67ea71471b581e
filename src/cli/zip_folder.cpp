#include "lambent/cli/zip_folder.hpp"

#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <memory>
#include <vector>

#include <sys/stat.h>

namespace lambent::cli {

namespace {

namespace fs = std::filesystem;

struct entry {
    std::string name;  // '/'-separated, relative; directories end with '/'
    fs::path path;
    mode_t mode = 0;   // full st_mode (type and permission bits)
    time_t mtime = 0;
};

struct zip_discarder {
    void operator()(zip_t* z) const { ::zip_discard(z); }
};
using zip_handle = std::unique_ptr<zip_t, zip_discarder>;

struct source_freer {
    void operator()(zip_source_t* s) const { ::zip_source_free(s); }
};
using source_handle = std::unique_ptr<zip_source_t, source_freer>;

error zip_failure(std::string_view what, zip_error_t* e) {
    return make_error(errc::validation, fmt::format("cannot build the ZIP: {}: {}", what, zip_error_strerror(e)));
}

error zip_failure(std::string_view what, zip_t* za) { return zip_failure(what, zip_get_error(za)); }

[[nodiscard]] result<std::vector<entry>> collect(const fs::path& dir) {
    std::vector<entry> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
    if (ec) return make_error(errc::validation, fmt::format("cannot read {}: {}", dir.string(), ec.message()));
    for (; it != end; it.increment(ec)) {
        if (ec) return make_error(errc::validation, fmt::format("cannot read {}: {}", dir.string(), ec.message()));
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0) {
            return make_error(errc::validation, fmt::format("cannot stat {}", it->path().string()));
        }
        std::string name = it->path().lexically_relative(dir).generic_string();
        if (S_ISDIR(st.st_mode)) {
            name += '/';
        } else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            return make_error(errc::validation,
                              fmt::format("{} is not a regular file, directory or symlink", it->path().string()));
        }
        out.push_back(entry{std::move(name), it->path(), st.st_mode, st.st_mtime});
    }
    if (ec) return make_error(errc::validation, fmt::format("cannot read {}: {}", dir.string(), ec.message()));
    std::sort(out.begin(), out.end(), [](const entry& a, const entry& b) { return a.name < b.name; });
    return out;
}

}  // namespace

result<zipped_folder> zip_folder(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return make_error(errc::validation, fmt::format("{} is not a directory", dir.string()));
    }
    auto entries = collect(dir);
    if (!entries) return entries.error();
    if (entries->empty()) {
        return make_error(errc::validation, fmt::format("{} is empty: there is nothing to deploy", dir.string()));
    }

    zip_error_t zerr;
    zip_error_init(&zerr);
    source_handle buffer{zip_source_buffer_create(nullptr, 0, 0, &zerr)};
    if (!buffer) return zip_failure("buffer", &zerr);
    zip_handle za{zip_open_from_source(buffer.get(), ZIP_TRUNCATE, &zerr)};
    if (!za) return zip_failure("open", &zerr);
    zip_source_keep(buffer.get());  // the archive holds a reference too; the bytes are read back below

    // Symlink targets are held until zip_close() writes the archive (reserved: no reallocation moves them);
    // files are read by libzip at zip_close().
    std::vector<std::string> link_targets;
    link_targets.reserve(entries->size());
    for (const auto& e : *entries) {
        zip_int64_t idx = -1;
        if (S_ISDIR(e.mode)) {
            idx = zip_dir_add(za.get(), e.name.c_str(), ZIP_FL_ENC_UTF_8);
        } else {
            zip_source_t* src = nullptr;
            if (S_ISLNK(e.mode)) {
                std::error_code lec;
                link_targets.push_back(fs::read_symlink(e.path, lec).string());
                if (lec) return make_error(errc::validation, fmt::format("cannot read the symlink {}", e.path.string()));
                src = zip_source_buffer(za.get(), link_targets.back().data(), link_targets.back().size(), 0);
            } else {
                src = zip_source_file(za.get(), e.path.c_str(), 0, -1);
            }
            if (src == nullptr) return zip_failure(e.name, za.get());
            idx = zip_file_add(za.get(), e.name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
            if (idx < 0) {
                zip_source_free(src);
                return zip_failure(e.name, za.get());
            }
            if (S_ISLNK(e.mode)) zip_set_file_compression(za.get(), static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
        }
        if (idx < 0) return zip_failure(e.name, za.get());
        // The entry's own modification time, not the time of zipping (libzip's default for directories and
        // symlinks): an unchanged folder gives the same bytes, so redeploying it changes nothing.
        if (zip_file_set_mtime(za.get(), static_cast<zip_uint64_t>(idx), e.mtime, 0) != 0) {
            return zip_failure(e.name, za.get());
        }
        if (zip_file_set_external_attributes(za.get(), static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX,
                                             static_cast<zip_uint32_t>(e.mode) << 16) != 0) {
            return zip_failure(e.name, za.get());
        }
    }
    if (zip_close(za.get()) != 0) return zip_failure("close", za.get());
    (void)za.release();  // zip_close freed it

    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(buffer.get(), &st) != 0 || zip_source_open(buffer.get()) != 0) {
        return zip_failure("read back", zip_source_error(buffer.get()));
    }
    zipped_folder out;
    out.bytes.resize(static_cast<std::size_t>(st.size));
    const zip_int64_t got = zip_source_read(buffer.get(), out.bytes.data(), st.size);
    zip_source_close(buffer.get());
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) return zip_failure("read back", zip_source_error(buffer.get()));
    out.entries = entries->size();
    out.files = static_cast<std::size_t>(
        std::count_if(entries->begin(), entries->end(), [](const entry& e) { return !S_ISDIR(e.mode); }));
    return out;
}

}  // namespace lambent::cli
