#include "lambent/store/zip_intake.hpp"

#include "../zip_builder.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

namespace fs = std::filesystem;
using lambent::errc;
using lambent::store::extract_zip;
using lambent::testing::build_zip;
using lambent::testing::zip_entry;

namespace {
struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("lambent-zip-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    temp_dir() { fs::create_directories(path); }
    ~temp_dir() { fs::remove_all(path); }
};
}  // namespace

TEST(zip_intake, extracts_files_and_keeps_permission_bits) {
    temp_dir t;
    const auto zip = build_zip({{"app.py", "print('hi')\n"},
                                {"bootstrap", "#!/bin/sh\n", 0100755},
                                {"pkg/", "", 040755},
                                {"pkg/mod.py", "x = 1\n"}});
    auto res = extract_zip(zip, t.path / "out");
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->entries, 4u);
    struct stat st {};
    ASSERT_EQ(::stat((t.path / "out/bootstrap").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    ASSERT_EQ(::stat((t.path / "out/app.py").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    std::ifstream in(t.path / "out/pkg/mod.py");
    std::string content((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(content, "x = 1\n");
}

TEST(zip_intake, keeps_symlinks_inside_the_tree) {
    temp_dir t;
    const auto zip = build_zip({{"lib/real.txt", "data"}, {"lib/alias.txt", "real.txt", 0120777}});
    auto res = extract_zip(zip, t.path / "out");
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_TRUE(fs::is_symlink(t.path / "out/lib/alias.txt"));
    EXPECT_EQ(fs::read_symlink(t.path / "out/lib/alias.txt"), "real.txt");
}

struct bad_zip_case {
    const char* label;
    std::vector<zip_entry> entries;
    const char* message_part;
};

class zip_intake_rejects : public ::testing::TestWithParam<bad_zip_case> {};

TEST_P(zip_intake_rejects, unsafe_archives_and_leaves_nothing_behind) {
    temp_dir t;
    const auto& c = GetParam();
    auto res = extract_zip(build_zip(c.entries), t.path / "out");
    ASSERT_FALSE(res.has_value()) << c.label;
    EXPECT_EQ(res.error().code, errc::invalid_parameter_value);
    EXPECT_NE(res.error().message.find(c.message_part), std::string::npos) << res.error().message;
    EXPECT_FALSE(fs::exists(t.path / "out")) << "partial extraction left behind";
    EXPECT_FALSE(fs::exists(t.path / "evil.txt"));
}

INSTANTIATE_TEST_SUITE_P(
    table, zip_intake_rejects,
    ::testing::Values(
        bad_zip_case{"dot-dot", {{"../evil.txt", "x"}}, "outside the function's directory"},
        bad_zip_case{"nested dot-dot", {{"a/../../evil.txt", "x"}}, "outside the function's directory"},
        bad_zip_case{"absolute", {{"/tmp/evil.txt", "x"}}, "outside the function's directory"},
        bad_zip_case{"backslash dot-dot", {{"..\\evil.txt", "x"}}, "outside the function's directory"},
        bad_zip_case{"symlink out", {{"link", "../../etc/passwd", 0120777}}, "points outside"},
        bad_zip_case{"absolute symlink", {{"link", "/etc/shadow", 0120777}}, "points outside"},
        bad_zip_case{"bomb ratio", {{"zeros.bin", std::string(40u << 20, '\0')}}, "compression ratio"}),
    [](const auto& p) {
        std::string name = p.param.label;
        for (auto& ch : name) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return name;
    });

TEST(zip_intake, rejects_what_is_not_a_zip) {
    temp_dir t;
    auto res = extract_zip("this is not a zip file at all", t.path / "out");
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error().message, "Could not unzip uploaded file. Please check your file, then try to upload again.");
    EXPECT_FALSE(fs::exists(t.path / "out"));
}

TEST(zip_intake, enforces_the_unzipped_size_limit) {
    temp_dir t;
    lambent::store::unzip_limits limits;
    limits.max_unzipped_bytes = 1000;
    auto res = extract_zip(build_zip({{"a", std::string(600, 'a'), 0100644, true}, {"b", std::string(600, 'b'), 0100644, true}}),
                           t.path / "out", limits);
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error().message, "Unzipped size must be smaller than 1000 bytes");
    EXPECT_FALSE(fs::exists(t.path / "out"));
}

TEST(zip_intake, enforces_the_entry_count_limit) {
    temp_dir t;
    lambent::store::unzip_limits limits;
    limits.max_entries = 3;
    auto res = extract_zip(build_zip({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}), t.path / "out", limits);
    ASSERT_FALSE(res.has_value());
    EXPECT_NE(res.error().message.find("4 entries"), std::string::npos) << res.error().message;
}

TEST(zip_intake, rejects_symlink_chains_that_escape) {
    temp_dir t;
    // s/b -> ".." stays inside on its own; a -> "s/b/../../etc/passwd" looks inside lexically but escapes
    // once s/b is followed.
    auto res = extract_zip(build_zip({{"s/", "", 040755}, {"s/b", "..", 0120777}, {"a", "s/b/../../etc/passwd", 0120777}}),
                           t.path / "out");
    ASSERT_FALSE(res.has_value());
    EXPECT_NE(res.error().message.find("points outside"), std::string::npos) << res.error().message;
    EXPECT_FALSE(fs::exists(t.path / "out"));
}
