#pragma once
/// `lambent deploy DIR`: the folder as a Lambda deployment package (libzip), in memory.

#include "lambent/common/error.hpp"

#include <cstddef>
#include <filesystem>
#include <string>

namespace lambent::cli {

struct zipped_folder {
    std::string bytes;        // the ZIP archive
    std::size_t entries = 0;  // files, directories and symlinks stored
    std::size_t files = 0;    // of which files and symlinks
};

/// Zips the contents of `dir` (not `dir` itself: `DIR/app.py` is `app.py` in the archive), entries sorted by
/// path. Unix permission bits are kept, so an executable `bootstrap` stays executable; symlinks are stored
/// as symlinks (the server accepts those that stay inside the package); empty directories are kept.
/// errc::validation when `dir` is not a readable directory or is empty, a file cannot be read, or it holds a
/// special file (fifo, socket, device).
[[nodiscard]] result<zipped_folder> zip_folder(const std::filesystem::path& dir);

}  // namespace lambent::cli
