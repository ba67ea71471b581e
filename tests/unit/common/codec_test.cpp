#include "lambent/common/codec.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

using namespace lambent::codec;

TEST(codec, base64_round_trips_every_length) {
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<char>(i * 7));
        auto decoded = base64_decode(base64_encode(bytes));
        ASSERT_TRUE(decoded.has_value());
        EXPECT_EQ(*decoded, bytes);
    }
}

TEST(codec, base64_known_vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(*base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(*base64_decode("Zm9v\nYmE="), "fooba");
}

TEST(codec, base64_rejects_garbage) {
    EXPECT_FALSE(base64_decode("!!!!").has_value());
    EXPECT_FALSE(base64_decode("Zm9v*g==").has_value());
}

TEST(codec, sha256_matches_known_digest) {
    EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(base64_encode(sha256("")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(codec, uuid4_shape) {
    const auto id = uuid4();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(uuid4(), id);
}

TEST(codec, uuid4_ids_are_distinct_version_4_across_random_blocks) {
    // Ids are cut from 4 KiB blocks of random bytes (256 ids each): cross a few block boundaries.
    std::set<std::string> seen;
    const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    for (int i = 0; i < 1000; ++i) {
        const auto id = uuid4();
        ASSERT_TRUE(std::regex_match(id, v4)) << id;
        ASSERT_TRUE(seen.insert(id).second) << "repeated id " << id;
    }
}

TEST(codec, lambda_timestamp_format) {
    const sys_ms t{std::chrono::milliseconds{1714566896789}};
    EXPECT_EQ(lambda_timestamp(t), "2024-05-01T12:34:56.789+0000");
    EXPECT_EQ(iso_timestamp(t), "2024-05-01T12:34:56.789Z");
    EXPECT_EQ(date_path(t), "2024/05/01");
}

TEST(codec, percent_decoding) {
    EXPECT_EQ(*percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
    EXPECT_EQ(*percent_decode("%24LATEST"), "$LATEST");
    EXPECT_EQ(*percent_decode("a+b", true), "a b");
    EXPECT_EQ(*percent_decode("a+b", false), "a+b");
    EXPECT_FALSE(percent_decode("%4").has_value());
    EXPECT_FALSE(percent_decode("%zz").has_value());
    EXPECT_FALSE(percent_decode("abc%").has_value());
}
