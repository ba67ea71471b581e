#pragma once
// Builds ZIP archives for tests with libzip (the same library the server reads them with).

#include <zip.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace lambent::testing {

struct zip_entry {
    std::string name;
    std::string content;
    unsigned mode = 0100644;  // Unix mode; S_IFLNK for symlinks (content = target)
    bool store_only = false;
};

inline std::string build_zip(const std::vector<zip_entry>& entries) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("lambent-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()) + ".zip");
    int err = 0;
    zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    for (const auto& e : entries) {
        zip_source_t* src = zip_source_buffer(za, e.content.data(), e.content.size(), 0);
        const zip_int64_t idx = e.name.back() == '/' ? zip_dir_add(za, e.name.c_str(), ZIP_FL_ENC_UTF_8)
                                                      : zip_file_add(za, e.name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
        if (e.name.back() == '/') zip_source_free(src);
        zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX,
                                         static_cast<zip_uint32_t>(e.mode) << 16);
        if (e.store_only) zip_set_file_compression(za, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
    }
    zip_close(za);
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    std::filesystem::remove(path);
    return bytes.str();
}

}  // namespace lambent::testing
