#include "lambent/store/store.hpp"

#include "../zip_builder.hpp"

#include <gtest/gtest.h>

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
