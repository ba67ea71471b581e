#include "lambent/store/store.hpp"

#include "../zip_builder.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using lambent::errc;
using lambent::store::store;

namespace {
struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("lambent-store-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    ~temp_dir() { fs::remove_all(path); }
};

lambent::model::function_record record(const std::string& name, const std::string& sha, const std::string& rev) {
    lambent::model::function_record f;
    f.name = name;
    f.runtime = "python3.12";
    f.handler = "app.handler";
    f.code_sha256_hex = sha;
    f.revision_id = rev;
    f.last_modified_ms = 1714566896789;
    return f;
}
}  // namespace

TEST(store, code_is_content_addressed_and_unpacked) {
    temp_dir t;
    auto s = store::open(t.path);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    const auto zip = lambent::testing::build_zip({{"app.py", "x = 1\n"}});
    auto blob = (*s)->put_code(zip);
    ASSERT_TRUE(blob.has_value()) << blob.error().message;
    EXPECT_EQ(blob->size, static_cast<std::int64_t>(zip.size()));
    EXPECT_TRUE(fs::exists((*s)->code_path(blob->sha256_hex)));
    EXPECT_TRUE(fs::exists((*s)->unpacked_path(blob->sha256_hex) / "app.py"));
    auto again = (*s)->put_code(zip);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->sha256_hex, blob->sha256_hex);
}

TEST(store, a_bad_zip_leaves_no_files) {
    temp_dir t;
    auto s = store::open(t.path);
    ASSERT_TRUE(s.has_value());
    auto blob = (*s)->put_code(lambent::testing::build_zip({{"../escape", "x"}}));
    ASSERT_FALSE(blob.has_value());
    EXPECT_TRUE(fs::is_empty(t.path / "code"));
    EXPECT_TRUE(fs::is_empty(t.path / "unpacked"));
}

TEST(store, functions_survive_reopen_and_updates_compare_and_swap) {
    temp_dir t;
    {
        auto s = store::open(t.path);
        ASSERT_TRUE(s.has_value());
        ASSERT_TRUE((*s)->insert_function(record("a", "aa", "r1")).has_value());
        auto dup = (*s)->insert_function(record("a", "aa", "r9"));
        ASSERT_FALSE(dup.has_value());
        EXPECT_EQ(dup.error().code, errc::resource_conflict);
        ASSERT_TRUE((*s)->replace_function(record("a", "bb", "r2"), "r1").has_value());
        auto stale = (*s)->replace_function(record("a", "cc", "r3"), "r1");
        ASSERT_FALSE(stale.has_value());
        EXPECT_EQ(stale.error().code, errc::precondition_failed);
        auto gone = (*s)->replace_function(record("zzz", "cc", "r3"), "r1");
        ASSERT_FALSE(gone.has_value());
        EXPECT_EQ(gone.error().code, errc::resource_not_found);
        ASSERT_TRUE((*s)->insert_function(record("b", "bb", "r5")).has_value());
        ASSERT_TRUE((*s)->delete_function("b").has_value());
    }
    auto s = store::open(t.path);
    ASSERT_TRUE(s.has_value());
    const auto all = (*s)->load_functions();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].name, "a");
    EXPECT_EQ(all[0].code_sha256_hex, "bb");
    EXPECT_EQ(all[0].revision_id, "r2");
    EXPECT_EQ(all[0].last_modified_ms, 1714566896789);
}

TEST(store, garbage_collection_keeps_only_referenced_code) {
    temp_dir t;
    auto s = store::open(t.path);
    ASSERT_TRUE(s.has_value());
    auto keep = (*s)->put_code(lambent::testing::build_zip({{"keep.py", "1"}}));
    auto drop = (*s)->put_code(lambent::testing::build_zip({{"drop.py", "2"}}));
    ASSERT_TRUE(keep.has_value() && drop.has_value());
    std::ofstream(t.path / "code" / "x.zip.tmp-123456") << "partial";
    (*s)->collect_garbage({keep->sha256_hex});
    EXPECT_TRUE(fs::exists((*s)->code_path(keep->sha256_hex)));
    EXPECT_TRUE(fs::exists((*s)->unpacked_path(keep->sha256_hex)));
    EXPECT_FALSE(fs::exists((*s)->code_path(drop->sha256_hex)));
    EXPECT_FALSE(fs::exists((*s)->unpacked_path(drop->sha256_hex)));
    EXPECT_FALSE(fs::exists(t.path / "code" / "x.zip.tmp-123456"));
}

TEST(store, an_unwritable_data_dir_is_a_clear_error) {
    auto s = store::open("/proc/lambent-cannot-be-here");
    ASSERT_FALSE(s.has_value());
    EXPECT_NE(s.error().message.find("/proc/lambent-cannot-be-here"), std::string::npos) << s.error().message;
}

namespace {
std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

TEST(store, layers_merge_in_order_later_files_win) {
    temp_dir t;
    auto s = store::open(t.path);
    ASSERT_TRUE(s.has_value());
    auto first = (*s)->put_code(lambent::testing::build_zip({{"python/mod.py", "first"},
                                                             {"python/only_first.py", "1"},
                                                             {"bin/tool", "a file first", 0100755},
                                                             {"lib/", "", 040755}}));
    auto second = (*s)->put_code(lambent::testing::build_zip({{"python/mod.py", "second"},
                                                              {"bin/tool/inner", "a directory now"},
                                                              {"lib", "not a directory any more"},
                                                              {"python/link.py", "mod.py", 0120777}}));
    ASSERT_TRUE(first.has_value() && second.has_value()) << (first ? second.error().message : first.error().message);
    EXPECT_GT(first->unzipped_bytes, 0u);
    auto merged = (*s)->ensure_opt({first->sha256_hex, second->sha256_hex});
    ASSERT_TRUE(merged.has_value()) << merged.error().message;
    EXPECT_EQ(read_text(*merged / "python/mod.py"), "second");
    EXPECT_EQ(read_text(*merged / "python/only_first.py"), "1");
    EXPECT_EQ(read_text(*merged / "bin/tool/inner"), "a directory now");
    EXPECT_EQ(read_text(*merged / "lib"), "not a directory any more");
    EXPECT_TRUE(fs::is_symlink(*merged / "python/link.py"));
    EXPECT_EQ(fs::read_symlink(*merged / "python/link.py"), "mod.py");
    // The order is part of the identity: the other order is another tree, with the other winner.
    auto reversed = (*s)->ensure_opt({second->sha256_hex, first->sha256_hex});
    ASSERT_TRUE(reversed.has_value());
    EXPECT_NE(*reversed, *merged);
    EXPECT_EQ(read_text(*reversed / "python/mod.py"), "first");
    // Built once: asking again returns the same tree; an unreferenced merged tree is garbage at start-up.
    EXPECT_EQ(*(*s)->ensure_opt({first->sha256_hex, second->sha256_hex}), *merged);
    (*s)->collect_garbage({first->sha256_hex, second->sha256_hex,
                           store::opt_id({first->sha256_hex, second->sha256_hex})});
    EXPECT_TRUE(fs::exists(*merged));
    EXPECT_FALSE(fs::exists(*reversed));
    // put_code of content that is already unpacked still reports its unzipped size.
    auto again = (*s)->put_code(lambent::testing::build_zip({{"python/mod.py", "first"},
                                                            {"python/only_first.py", "1"},
                                                            {"bin/tool", "a file first", 0100755},
                                                            {"lib/", "", 040755}}));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->unzipped_bytes, first->unzipped_bytes);
}

TEST(store, layer_versions_survive_reopen_and_keep_their_highest_number) {
    temp_dir t;
    {
        auto s = store::open(t.path);
        ASSERT_TRUE(s.has_value());
        for (int v : {1, 2, 3}) {
            lambent::model::layer_version_record l;
            l.name = "deps";
            l.version = v;
            l.code_sha256_hex = "ab";
            l.compatible_runtimes = std::vector<std::string>{"python3.12"};
            ASSERT_TRUE((*s)->insert_layer_version(l).has_value());
        }
        ASSERT_TRUE((*s)->delete_layer_version("deps", 3).has_value());
        ASSERT_TRUE((*s)->delete_layer_version("deps", 9).has_value());  // missing: not an error
    }
    auto s = store::open(t.path);
    ASSERT_TRUE(s.has_value());
    const auto rows = (*s)->load_catalog();
    ASSERT_EQ(rows.layers.size(), 2u);
    EXPECT_EQ(rows.layers[1].version, 2);
    EXPECT_EQ(rows.layers[1].compatible_runtimes, (std::vector<std::string>{"python3.12"}));
    EXPECT_EQ(rows.layer_last_versions.at("deps"), 3);
}
