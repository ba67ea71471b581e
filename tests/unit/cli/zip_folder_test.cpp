// zip_folder is part of lambent_core (templates zip CodeUri folders too), so this test links it like any unit.
#include "lambent/cli/zip_folder.hpp"

#include "lambent/store/zip_intake.hpp"

#include <gtest/gtest.h>
#include <zip.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using lambent::cli::zip_folder;

namespace {

struct temp_dir {
    fs::path path = fs::temp_directory_path() /
                    ("lambent-cli-zip-" + std::to_string(::getpid()) + "-" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    temp_dir() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& content, mode_t mode) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
}

struct stored {
    std::string content;
    unsigned mode = 0;
};

/// Reads the archive back with libzip: name → (content, Unix mode).
std::map<std::string, stored> read_back(const std::string& bytes) {
    std::map<std::string, stored> out;
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
    EXPECT_NE(za, nullptr);
    if (za == nullptr) return out;
    for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
        const auto idx = static_cast<zip_uint64_t>(i);
        const std::string name = zip_get_name(za, idx, 0);
        zip_uint8_t opsys = 0;
        zip_uint32_t attr = 0;
        zip_file_get_external_attributes(za, idx, 0, &opsys, &attr);
        EXPECT_EQ(opsys, ZIP_OPSYS_UNIX) << name;
        stored s;
        s.mode = attr >> 16;
        zip_stat_t st;
        zip_stat_index(za, idx, 0, &st);
        if (st.size > 0) {
            s.content.resize(st.size);
            zip_file_t* f = zip_fopen_index(za, idx, 0);
            zip_fread(f, s.content.data(), st.size);
            zip_fclose(f);
        }
        out[name] = s;
    }
    zip_discard(za);
    return out;
}

}  // namespace

TEST(zip_folder, stores_contents_with_modes_dirs_and_symlinks) {
    temp_dir t;
    const auto root = t.path / "fn";
    write(root / "bootstrap", "#!/bin/sh\necho hi\n", 0755);
    write(root / "app.py", "print('hi')\n", 0644);
    write(root / "lib/pkg/mod.py", "x = 1\n", 0600);
    fs::create_directories(root / "empty");
    fs::create_symlink("lib/pkg/mod.py", root / "link.py");

    auto z = zip_folder(root);
    ASSERT_TRUE(z.has_value()) << z.error().message;
    EXPECT_EQ(z->entries, 7u);
    EXPECT_EQ(z->files, 4u);
    const auto entries = read_back(z->bytes);
    std::vector<std::string> names;
    for (const auto& [name, s] : entries) names.push_back(name);
    EXPECT_EQ(names, (std::vector<std::string>{"app.py", "bootstrap", "empty/", "lib/", "lib/pkg/", "lib/pkg/mod.py",
                                               "link.py"}));
    EXPECT_EQ(entries.at("bootstrap").content, "#!/bin/sh\necho hi\n");
    EXPECT_EQ(entries.at("bootstrap").mode, 0100755u);
    EXPECT_EQ(entries.at("app.py").mode, 0100644u);
    EXPECT_EQ(entries.at("lib/pkg/mod.py").mode, 0100600u);
    EXPECT_TRUE(S_ISDIR(entries.at("empty/").mode));
    EXPECT_TRUE(S_ISLNK(entries.at("link.py").mode));
    EXPECT_EQ(entries.at("link.py").content, "lib/pkg/mod.py");
}

TEST(zip_folder, entries_carry_their_own_times_so_an_unchanged_folder_zips_to_the_same_bytes) {
    temp_dir t;
    const auto root = t.path / "layer";
    write(root / "python/mod.py", "x = 1\n", 0644);
    fs::create_symlink("python/mod.py", root / "link.py");
    // Every entry dated 2001-09-09: what libzip would otherwise stamp on directories and symlinks is the
    // time of zipping.
    const struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    for (const auto* p : {"python/mod.py", "python", "link.py"}) {
        ASSERT_EQ(::utimensat(AT_FDCWD, (root / p).c_str(), old, AT_SYMLINK_NOFOLLOW), 0) << p;
    }
    auto first = zip_folder(root);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(first->bytes.data(), first->bytes.size(), 0, &err);
    zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
    ASSERT_NE(za, nullptr);
    for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
        zip_stat_t st;
        ASSERT_EQ(zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st), 0);
        // DOS times have 2-second steps and no zone: within a day of the date set above.
        EXPECT_LT(std::llabs(static_cast<long long>(st.mtime) - 1000000000LL), 86400LL) << st.name;
    }
    zip_discard(za);
    auto second = zip_folder(root);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(first->bytes, second->bytes);
}

TEST(zip_folder, the_server_unpacks_it_with_an_executable_bootstrap) {
    temp_dir t;
    const auto root = t.path / "fn";
    write(root / "bootstrap", "#!/bin/sh\n", 0755);
    write(root / "src/handler.sh", "echo\n", 0644);
    auto z = zip_folder(root);
    ASSERT_TRUE(z.has_value()) << z.error().message;
    auto res = lambent::store::extract_zip(z->bytes, t.path / "unpacked");
    ASSERT_TRUE(res.has_value()) << res.error().message;
    struct stat st {};
    ASSERT_EQ(::stat((t.path / "unpacked/bootstrap").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    std::ifstream in(t.path / "unpacked/src/handler.sh");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "echo\n");
}

TEST(zip_folder, an_empty_folder_is_nothing_to_deploy) {
    temp_dir t;
    auto z = zip_folder(t.path);
    ASSERT_FALSE(z.has_value());
    EXPECT_EQ(z.error().message, t.path.string() + " is empty: there is nothing to deploy");
}

TEST(zip_folder, refuses_what_is_not_a_package) {
    temp_dir t;
    write(t.path / "file.txt", "x", 0644);
    auto not_dir = zip_folder(t.path / "file.txt");
    ASSERT_FALSE(not_dir.has_value());
    EXPECT_EQ(not_dir.error().message, (t.path / "file.txt").string() + " is not a directory");
    EXPECT_FALSE(zip_folder(t.path / "missing").has_value());

    ASSERT_EQ(::mkfifo((t.path / "pipe").c_str(), 0644), 0);
    auto fifo = zip_folder(t.path);
    ASSERT_FALSE(fifo.has_value());
    EXPECT_EQ(fifo.error().message, (t.path / "pipe").string() + " is not a regular file, directory or symlink");
}
